"""The application factory: state under typed keys, every resource opened in a cleanup_ctx."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from random import getrandbits

import orjson
from aiohttp import web

from contract import routes
from contract.codes import GatewayError, error_body, invalid
from faults import Chaos, FaultEngine, Gateway, RequestFacts
from mock_gateway import chaos_routes, handlers, limits, shaping, store
from mock_gateway.admission import Admission, Shed
from mock_gateway.channels import Router
from mock_gateway.clock import utc_now_iso
from mock_gateway.config import MEMORY_DB, GatewayConfig
from mock_gateway.keys import (
    FACTS,
    REQUEST_ID,
    admission_key,
    chaos_key,
    config_key,
    db_path_key,
    faults_key,
    metrics_key,
    payments_key,
    reader_key,
    router_key,
    writer_key,
)
from mock_gateway.metrics import GatewayState, Metrics
from mock_gateway.payments import PaymentService
from mock_gateway.requests import IDEMPOTENCY_HEADER
from mock_gateway.seed import seed_database
from mock_gateway.settle import settle_forever
from mock_gateway.writer import Writer

log = logging.getLogger("mock_gateway")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FAULT_HEADER = "X-Paystorm-Fault"


def error_response(err: GatewayError, request_id: str) -> web.Response:
    resp = web.Response(
        body=orjson.dumps(error_body(err, request_id)),
        status=err.spec.http_status,
        content_type="application/json",
    )
    if err.retry_after_s is not None:
        resp.headers["Retry-After"] = str(err.retry_after_s)
    return resp


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> GatewayError:
    if exc.status == 404:
        return GatewayError("NOT_FOUND", detail=f"No route {request.path}.")
    if exc.status == 405:
        return GatewayError("METHOD_NOT_ALLOWED", detail=f"{request.method} {request.path}.")
    if exc.status == 413:
        return limits.body_too_large(request.app[config_key].max_body_bytes)
    return invalid("request", exc.reason)


def _authorized(request: web.Request) -> bool:
    token = request.app[config_key].admin_token
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    # Always compare, even without a token configured, so timing says nothing.
    expected = token.encode() if token else b"\x00"
    # Header bytes that are not UTF-8 arrive as surrogate escapes: compare them as the bytes sent.
    sent = credentials.strip().encode("utf-8", "surrogateescape")
    # The scheme is case-insensitive (RFC 9110 section 11.1).
    return hmac.compare_digest(sent, expected) and scheme.lower() == "bearer" and bool(token)


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, admin auth, faults, admission, error mapping and metrics, for every request."""
    # Not a secret, only unique enough to find a request: no getrandom() call per request.
    request_id = f"{getrandbits(64):016x}"
    request[REQUEST_ID] = request_id
    app = request.app
    http = app[metrics_key].http
    http.inflight += 1
    started = time.perf_counter()
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else "unmatched"
    route = routes.NAME_OF.get((request.method, canonical))
    facts = None
    resp: web.StreamResponse
    try:
        # Sizes first: nothing of an oversized request is read or acted on.
        limits.check_request(request, app[config_key].max_body_bytes)
        if route is None:
            if request.path.startswith(routes.PROTECTED_PREFIXES) and not _authorized(request):
                raise GatewayError("UNAUTHORIZED")
            resp = await handler(request)
        else:
            facts = RequestFacts(
                route=route,
                key=request.headers.get(IDEMPOTENCY_HEADER) or request.path,
                user_id=request.match_info.get("user_id"),
            )
            request[FACTS] = facts
            chaos = app[chaos_key]
            if chaos.engine.active_total:
                if route == "pay":
                    await _peek_payment(request, facts)
                await chaos.edge(facts)
            async with app[admission_key].slot():
                resp = await handler(request)
    except GatewayError as err:
        if isinstance(err, Shed) and facts is not None:
            app[chaos_key].shed(facts)
        if route == "pay":
            http.outcome(err.code)
        resp = error_response(err, request_id)
    except web.HTTPException as exc:
        resp = error_response(_from_http_exception(exc, request), request_id)
        if exc.status == 405 and "Allow" in exc.headers:
            resp.headers["Allow"] = exc.headers["Allow"]
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        resp = error_response(GatewayError("INTERNAL_ERROR"), request_id)
    finally:
        http.inflight -= 1
    resp.headers["X-Request-Id"] = request_id
    # With no fault active, nothing can shape the response but a fault that ended meanwhile.
    if facts is not None and (facts.fault_ids or app[chaos_key].engine.active_total):
        if route == "pay" and facts.user_id is None and facts.merchant_id is None:
            # Not peeked at the edge (no fault was active then), nor known from the payment.
            # A body that could not be read has already been answered for.
            with contextlib.suppress(web.HTTPException, OSError):
                await _peek_payment(request, facts)
        resp = await _shape(request, facts, resp)
    http.answered(canonical, resp.status, time.perf_counter() - started)
    return resp


async def _peek_payment(request: web.Request, facts: RequestFacts) -> None:
    """Who pays whom, read before the body is validated, so that faults at the edge can
    target a payment's user or merchant; a body that does not say leaves them unknown."""
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return
    if isinstance(body, dict):
        user, merchant = body.get("user_id"), body.get("merchant_id")
        facts.user_id = user if isinstance(user, str) else None
        facts.merchant_id = merchant if isinstance(merchant, str) else None


async def _shape(
    request: web.Request, facts: RequestFacts, resp: web.StreamResponse
) -> web.StreamResponse:
    """Mark what faults did to the response, and lose or break it when a fault says so.

    Runs for every routed request once it was handled (or refused), so faults acting on the
    answer act on every attempt alike: a first payment, a replay of its stored answer, a
    query, a reversal, a refund."""
    reshape = request.app[chaos_key].respond(facts)
    if facts.fault_ids:
        resp.headers[FAULT_HEADER] = ",".join(facts.fault_ids)
    if reshape is not None:
        return await shaping.reshaped(request, resp, reshape)
    return resp


async def ledger_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open (and seed, when new) the database, start the writer, the fault engine and the
    settler; on exit stop them, flush the writer and close."""
    config = app[config_key]
    tmpdir = tempfile.mkdtemp(prefix="paystorm-gw-") if config.db == MEMORY_DB else None
    path = Path(tmpdir, "ledger.db") if tmpdir else Path(config.db)
    durable = config.durable and tmpdir is None and config.profile.ledger.fsync
    conn = store.connect(path, durable=durable, busy_timeout_ms=config.busy_timeout_ms)
    reader = store.connect(path, durable=durable, busy_timeout_ms=config.busy_timeout_ms)
    chaos: Chaos | None = None
    try:
        if not store.is_seeded(conn):
            store.create_schema(conn)
            seed_database(
                conn, seed=config.seed, n_accounts=config.accounts, n_merchants=config.merchants
            )
        store.ensure_indexes(conn)  # files made before an index was added get it too
        profile = config.profile
        writer = Writer(
            conn,
            asyncio.get_running_loop(),
            busy_timeout_ms=config.busy_timeout_ms,
            patience_s=profile.db_timeout_ms / 1000,
            commit=profile.ledger.commit,
        )
        router = Router(profile)
        admission = Admission(profile.capacity)
        engine = FaultEngine(
            inflight=lambda: admission.inflight + admission.queued, now_iso=utc_now_iso
        )
        chaos = Chaos(engine, Gateway(profile=profile, ledger=path))
        admission.set_limits(chaos.limits)
        service = PaymentService(
            reader,
            writer,
            store.load_accounts(reader),
            store.load_merchants(reader),
            router,
            chaos,
            config.seed,
        )
        metrics = app[metrics_key]
        metrics.watch_writer(writer.stats)
        metrics.watch_gateway(GatewayState(admission, router, engine))
        app[db_path_key] = str(path)
        app[reader_key] = reader
        app[writer_key] = writer
        app[router_key] = router
        app[admission_key] = admission
        app[faults_key] = engine
        app[chaos_key] = chaos
        app[payments_key] = service
        settler = asyncio.get_running_loop().create_task(
            settle_forever(service, profile.settle_delay_s, profile.settle_success_share),
            name="settler",
        )
        yield
        engine.clear()
        settler.cancel()
        await asyncio.gather(settler, return_exceptions=True)
        await chaos.close()
        await writer.close()
    finally:
        if chaos is not None:
            await chaos.close()
        reader.close()
        conn.close()
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def create_app(config: GatewayConfig) -> web.Application:
    app = web.Application(middlewares=[observe], client_max_size=config.max_body_bytes)
    app[config_key] = config
    app[metrics_key] = Metrics.create()
    app.cleanup_ctx.append(ledger_ctx)
    handlers.setup(app)
    chaos_routes.setup(app)
    return app

"""The application factory: state under typed keys, every resource opened in a cleanup_ctx."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from contract import limits, routes
from contract.clock import utc_now_iso
from contract.codes import GatewayError
from contract.serving import authorized, error_response, new_request_id, unexpected
from faults import Answer, Chaos, Dropped, FaultEngine, Gateway, RequestFacts
from faults import api as chaos_api
from faults.admission import Admission, Shed
from faults.serve import answered, dropped, peek_payment, shape
from mock_gateway import handlers, store
from mock_gateway.channels import Router
from mock_gateway.config import MEMORY_DB, GatewayConfig
from mock_gateway.keys import (
    FACTS,
    REQUEST_ID,
    admission_key,
    chaos_key,
    config_key,
    db_path_key,
    metrics_key,
    payments_key,
    reader_key,
    router_key,
    writer_key,
)
from mock_gateway.metrics import GatewayState, Metrics, watch_gateway, watch_writer
from mock_gateway.payments import PaymentService
from mock_gateway.requests import IDEMPOTENCY_HEADER
from mock_gateway.seed import seed_database
from mock_gateway.settle import settle_forever
from mock_gateway.writer import Writer

log = logging.getLogger("mock_gateway")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, admin auth, faults, admission, error mapping and metrics, for every request."""
    request_id = new_request_id()
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
            protected = request.path.startswith(routes.PROTECTED_PREFIXES)
            if protected and not authorized(request, app[config_key].admin_token):
                raise GatewayError("UNAUTHORIZED")
            resp = await handler(request)
        else:
            facts = RequestFacts(
                route=route,
                key=request.headers.get(IDEMPOTENCY_HEADER) or request.path,
                user_id=request.match_info.get("user_id"),
                path=request.path,
            )
            request[FACTS] = facts
            chaos = app[chaos_key]
            if chaos.engine.active_total:
                if route == "pay":
                    await peek_payment(request, facts)
                await chaos.edge(facts)
            async with app[admission_key].slot():
                resp = await handler(request)
    except GatewayError as err:
        if isinstance(err, Shed) and facts is not None:
            app[chaos_key].shed(facts)
        if route == "pay":
            http.outcome(err.code)
        resp = error_response(err, request_id)
    except Answer as answer:
        resp = answered(answer)
    except Dropped:
        resp = dropped(request)
    except Exception as exc:  # a CancelledError is no Exception: it goes on up
        resp = unexpected(exc, request, request_id, app[config_key].max_body_bytes, log)
    finally:
        http.inflight -= 1
    resp.headers["X-Request-Id"] = request_id
    # With no fault active, nothing can shape the response but a fault that ended meanwhile.
    if facts is not None and (facts.fault_ids or app[chaos_key].engine.active_total):
        if route == "pay" and facts.user_id is None and facts.merchant_id is None:
            # Not peeked at the edge (no fault was active then), nor known from the payment.
            # A body that could not be read has already been answered for.
            with contextlib.suppress(web.HTTPException, OSError):
                await peek_payment(request, facts)
        resp = await shape(request, app[chaos_key], facts, resp)
    http.answered(canonical, resp.status, time.perf_counter() - started)
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
        watch_writer(metrics, writer.stats)
        watch_gateway(metrics, GatewayState(admission, router, engine))
        app[db_path_key] = str(path)
        app[reader_key] = reader
        app[writer_key] = writer
        app[router_key] = router
        app[admission_key] = admission
        app[chaos_api.host_key] = chaos_api.FaultHost(engine, tuple(router.channels))
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
    chaos_api.setup(app)
    return app

"""The application factory: state under typed keys, every resource opened in a cleanup_ctx."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import orjson
from aiohttp import web

from mock_gateway import routes, store
from mock_gateway.config import MEMORY_DB, GatewayConfig
from mock_gateway.errors import GatewayError, error_body, invalid
from mock_gateway.keys import (
    REQUEST_ID,
    config_key,
    db_path_key,
    metrics_key,
    payments_key,
    reader_key,
    writer_key,
)
from mock_gateway.metrics import Metrics
from mock_gateway.payments import PaymentService
from mock_gateway.seed import seed_database
from mock_gateway.writer import Writer

log = logging.getLogger("mock_gateway")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PROTECTED_PREFIXES = ("/_admin/", "/_chaos/")


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
        return invalid("body", f"larger than {request.app[config_key].max_body_bytes} bytes")
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
    """Request id, admin auth, error mapping and metrics for every request."""
    request_id = os.urandom(8).hex()
    request[REQUEST_ID] = request_id
    metrics = request.app[metrics_key]
    metrics.inflight.inc()
    started = time.perf_counter()
    resp: web.StreamResponse
    try:
        if request.path.startswith(_PROTECTED_PREFIXES) and not _authorized(request):
            raise GatewayError("UNAUTHORIZED")
        resp = await handler(request)
    except GatewayError as err:
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
        metrics.inflight.dec()
    resp.headers["X-Request-Id"] = request_id
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    metrics.requests.labels(route, str(resp.status)).inc()
    metrics.latency.labels(route).observe(time.perf_counter() - started)
    return resp


async def ledger_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open (and seed, when new) the database, start the writer; on exit flush and close."""
    config = app[config_key]
    tmpdir = tempfile.mkdtemp(prefix="paystorm-gw-") if config.db == MEMORY_DB else None
    path = Path(tmpdir, "ledger.db") if tmpdir else Path(config.db)
    durable = config.durable and tmpdir is None
    conn = store.connect(path, durable=durable, busy_timeout_ms=config.busy_timeout_ms)
    reader = store.connect(path, durable=durable, busy_timeout_ms=config.busy_timeout_ms)
    try:
        if not store.is_seeded(conn):
            store.create_schema(conn)
            seed_database(
                conn, seed=config.seed, n_accounts=config.accounts, n_merchants=config.merchants
            )
        writer = Writer(conn, asyncio.get_running_loop())
        app[metrics_key].watch_writer(writer.stats)
        app[db_path_key] = str(path)
        app[reader_key] = reader
        app[writer_key] = writer
        app[payments_key] = PaymentService(
            reader, writer, store.load_accounts(reader), store.load_merchants(reader)
        )
        yield
        writer.close()
    finally:
        reader.close()
        conn.close()
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def create_app(config: GatewayConfig) -> web.Application:
    app = web.Application(middlewares=[observe], client_max_size=config.max_body_bytes)
    app[config_key] = config
    app[metrics_key] = Metrics.create()
    app.cleanup_ctx.append(ledger_ctx)
    routes.setup(app)
    return app

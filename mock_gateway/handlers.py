"""HTTP handlers: parse at the edge, call the payment service, send what it decided."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from contract import routes
from contract.codes import invalid
from mock_gateway import openapi
from mock_gateway.audit import run_audit
from mock_gateway.export import payment_lines
from mock_gateway.keys import (
    FACTS,
    REQUEST_ID,
    db_path_key,
    metrics_key,
    payments_key,
    reader_key,
)
from mock_gateway.metrics import CONTENT_TYPE_LATEST
from mock_gateway.payments import Reply
from mock_gateway.requests import MAX_KEY_LEN, parse_payment, parse_refund
from mock_gateway.store import meta

_STARTED = web.AppKey("started_monotonic", float)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _reply(reply: Reply) -> web.Response:
    resp = web.Response(body=reply.body, status=reply.status, content_type="application/json")
    if reply.replayed:
        resp.headers["Idempotent-Replayed"] = "true"
    return resp


async def create_payment(request: web.Request) -> web.Response:
    key, req = parse_payment(request.headers, await request.read())
    reply = await request.app[payments_key].pay(key, req, request[REQUEST_ID], request[FACTS])
    if not reply.replayed:
        request.app[metrics_key].http.outcome(reply.code or "OK")
    return _reply(reply)


async def get_payment(request: web.Request) -> web.Response:
    return _json(request.app[payments_key].payment(request.match_info["payment_id"]))


async def reverse_payment(request: web.Request) -> web.Response:
    return _reply(await request.app[payments_key].reverse(request.match_info["payment_id"]))


async def refund_payment(request: web.Request) -> web.Response:
    payment_id = request.match_info["payment_id"]
    key, req = parse_refund(request.headers, await request.read(), payment_id)
    service = request.app[payments_key]
    return _reply(await service.refund(payment_id, key, req, request[REQUEST_ID]))


async def get_account(request: web.Request) -> web.Response:
    a = request.app[payments_key].account(request.match_info["user_id"])
    return _json(
        {
            "user_id": a.user_id,
            "credit_limit": a.credit_limit,
            "available_credit": a.available,
            "txn_limit": a.txn_limit,
            "status": a.status,
        }
    )


async def get_merchant(request: web.Request) -> web.Response:
    m = request.app[payments_key].merchant(request.match_info["merchant_id"])
    return _json({"merchant_id": m.merchant_id, "name": m.name, "accepts_credit": m.accepts_credit})


async def healthz(request: web.Request) -> web.Response:
    info = meta(request.app[reader_key])
    return _json(
        {
            "status": "ok",
            "uptime_s": round(time.monotonic() - request.app[_STARTED], 3),
            "seed": int(info["seed"]),
            "accounts": int(info["accounts"]),
            "merchants": int(info["merchants"]),
        }
    )


async def metrics(request: web.Request) -> web.Response:
    resp = web.Response(body=request.app[metrics_key].exposition())
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return resp


async def openapi_json(request: web.Request) -> web.Response:
    return _json(openapi.document())


async def audit(request: web.Request) -> web.Response:
    # The checks scan whole tables: off the event loop, on a connection of their own.
    result = await asyncio.to_thread(run_audit, Path(request.app[db_path_key]))
    return _json(result)


async def export_payments(request: web.Request) -> web.StreamResponse:
    """GET /_admin/payments?key_prefix=P: the ledger's payments as JSON lines."""
    prefix = request.query.get("key_prefix", "")
    if len(prefix) > MAX_KEY_LEN:
        raise invalid("key_prefix", f"must be at most {MAX_KEY_LEN} characters")
    # Streamed: headers leave before the middleware sees the response, so set them here.
    resp = web.StreamResponse(
        headers={"Content-Type": "application/x-ndjson", "X-Request-Id": request[REQUEST_ID]}
    )
    await resp.prepare(request)
    lines = payment_lines(Path(request.app[db_path_key]), prefix)
    try:
        while chunk := await asyncio.to_thread(next, lines, b""):
            await resp.write(chunk)
    finally:
        await asyncio.to_thread(lines.close)  # a client gone mid-stream leaves no connection
    await resp.write_eof()
    return resp


_HANDLERS = {
    routes.PAY: create_payment,
    routes.QUERY: get_payment,
    routes.REVERSE: reverse_payment,
    routes.REFUND: refund_payment,
    routes.ACCOUNT: get_account,
    routes.MERCHANT: get_merchant,
    routes.HEALTHZ: healthz,
    routes.METRICS: metrics,
    routes.OPENAPI: openapi_json,
    routes.AUDIT: audit,
    routes.EXPORT: export_payments,
}


def setup(app: web.Application) -> None:
    app[_STARTED] = time.monotonic()
    for route, handler in _HANDLERS.items():
        app.router.add_route(route.method, route.path, handler)

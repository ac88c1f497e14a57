"""The chaos admin API under /_chaos/ (bearer token checked by the middleware)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from contract import routes
from contract.codes import FieldError, GatewayError, invalid, not_found
from faults import FaultSpecError, parse_fault
from mock_gateway.keys import faults_key, router_key


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def list_faults(request: web.Request) -> web.Response:
    engine = request.app[faults_key]
    return _json({"faults": [f.view() for f in engine.faults.values()]})


async def add_fault(request: web.Request) -> web.Response:
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise invalid("body", f"not valid JSON ({exc.msg})") from None
    channels = tuple(request.app[router_key].channels)
    try:
        spec = parse_fault(body, channels)
    except FaultSpecError as exc:
        raise GatewayError("INVALID_REQUEST", fields=(FieldError(exc.field, exc.reason),)) from None
    fault = request.app[faults_key].add(spec)
    return _json(fault.view(), status=201)


async def delete_fault(request: web.Request) -> web.Response:
    fault_id = request.match_info["fault_id"]
    fault = request.app[faults_key].remove(fault_id)
    if fault is None:
        raise not_found("fault_id", fault_id)
    return _json(fault.view())


async def clear_faults(request: web.Request) -> web.Response:
    return _json({"removed": request.app[faults_key].clear()})


async def events(request: web.Request) -> web.Response:
    return _json({"events": [f.event() for f in request.app[faults_key].windows]})


def setup(app: web.Application) -> None:
    handlers = {
        routes.FAULTS: list_faults,
        routes.ADD_FAULT: add_fault,
        routes.CLEAR_FAULTS: clear_faults,
        routes.DELETE_FAULT: delete_fault,
        routes.EVENTS: events,
    }
    for route, handler in handlers.items():
        app.router.add_route(route.method, route.path, handler)

"""The chaos admin API under /_chaos/, served by every host of faults (the mock gateway, the
fault proxy): list, add and remove faults, and the events log of their windows. The bearer
token is checked by the host's middleware (contract/serving.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from contract import routes
from contract.codes import FieldError, GatewayError, invalid, not_found
from faults.engine import FaultEngine
from faults.parse import parse_fault
from faults.spec import FaultSpecError


def _accept_every_kind(kind: str) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class FaultHost:
    """What the chaos API acts on: the host's engine and the channels a fault may target."""

    engine: FaultEngine
    channels: tuple[str, ...]
    refusal: Callable[[str], str | None] = _accept_every_kind
    """Why the host cannot apply faults of a kind (None: it can), in one line."""


host_key = web.AppKey("fault_host", FaultHost)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def list_faults(request: web.Request) -> web.Response:
    engine = request.app[host_key].engine
    return _json({"faults": [f.view() for f in engine.faults.values()]})


async def add_fault(request: web.Request) -> web.Response:
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise invalid("body", f"not valid JSON ({exc.msg})") from None
    host = request.app[host_key]
    try:
        spec = parse_fault(body, host.channels)
    except FaultSpecError as exc:
        raise GatewayError("INVALID_REQUEST", fields=(FieldError(exc.field, exc.reason),)) from None
    reason = host.refusal(spec.kind)
    if reason is not None:
        raise invalid("kind", reason)
    fault = host.engine.add(spec)
    return _json(fault.view(), status=201)


async def delete_fault(request: web.Request) -> web.Response:
    fault_id = request.match_info["fault_id"]
    fault = request.app[host_key].engine.remove(fault_id)
    if fault is None:
        raise not_found("fault_id", fault_id)
    return _json(fault.view())


async def clear_faults(request: web.Request) -> web.Response:
    return _json({"removed": request.app[host_key].engine.clear()})


async def events(request: web.Request) -> web.Response:
    return _json({"events": [f.event() for f in request.app[host_key].engine.windows]})


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

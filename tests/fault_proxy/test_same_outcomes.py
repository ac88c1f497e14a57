"""Each request-level fault kind, applied by the proxy in front of a clean gateway, gives the
client the same outcome as the same fault inside the gateway (the embedded engine): the same
status and code, the same lost or broken connection, the same marker."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from contract import routes
from tests.fault_proxy.conftest import StartServer
from tests.mock_gateway.support import payment_body

FAULT_HEADER = "X-Paystorm-Fault"
_keys = itertools.count()


@dataclass(frozen=True)
class Seen:
    """A request as the client saw it."""

    outcome: str  # OK, the catalogue code, CONNECTION_ERROR, EMPTY or BAD_RESPONSE
    status: int | None
    marked: bool


async def send(session: aiohttp.ClientSession, base: str, route: str, key: str) -> Seen:
    if route == "pay":
        method, url = "POST", base + routes.PAY.path
        body: Any = payment_body("u000001", "m00001", 100)
    else:
        method, url, body = "GET", routes.ACCOUNT.url(base, user_id="u000001"), None
    headers = {"Idempotency-Key": key}
    try:
        async with session.request(method, url, json=body, headers=headers) as r:
            raw = await r.read()
            status, marked = r.status, FAULT_HEADER in r.headers
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
        return Seen("CONNECTION_ERROR", None, False)
    if not raw:
        return Seen("EMPTY", status, marked)
    try:
        decoded = json.loads(raw)
    except ValueError:
        return Seen("BAD_RESPONSE", status, marked)
    code = decoded.get("error", {}).get("code") if status >= 400 else "OK"
    return Seen(str(code), status, marked)


CASES: dict[str, tuple[dict[str, Any], str]] = {
    "latency": ({"kind": "latency", "params": {"ms": 50}}, "pay"),
    "timeout on a payment": ({"kind": "timeout", "params": {"ms": 100}}, "pay"),
    "timeout on a read": ({"kind": "timeout", "params": {"ms": 100}}, "account"),
    "error": ({"kind": "error", "params": {"code": "SYSTEM_BUSY"}}, "pay"),
    "error, a decline": ({"kind": "error", "params": {"code": "INSUFFICIENT_CREDIT"}}, "pay"),
    "network reset": ({"kind": "network", "params": {"mode": "reset"}}, "pay"),
    "network empty": ({"kind": "network", "params": {"mode": "empty"}}, "account"),
    "network malformed": ({"kind": "network", "params": {"mode": "malformed"}}, "pay"),
    "network slow_body": (
        {"kind": "network", "params": {"mode": "slow_body", "slow_ms": 50}},
        "pay",
    ),
    "lost_response": ({"kind": "lost_response"}, "pay"),
    "blackhole": ({"kind": "blackhole", "params": {"hold_ms": 100}}, "pay"),
    "rate_limit": ({"kind": "rate_limit", "params": {"rps": 0.001}}, "account"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_the_proxy_gives_what_the_embedded_engine_gives(
    case: str,
    start_gateway: StartServer,
    start_proxy: StartServer,
    session: aiohttp.ClientSession,
) -> None:
    spec, route = CASES[case]
    embedded = await start_gateway()
    await embedded.add_active(spec)
    clean = await start_gateway()
    proxy = await start_proxy(clean.base)
    await proxy.add_active(spec)
    # Twice each: a rate limit lets the first through; every other kind hits both.
    for attempt in range(2):
        key = f"k{next(_keys)}"
        direct = await send(session, embedded.base, route, key)
        through = await send(session, proxy.base, route, key)
        assert through == direct, (attempt, spec)
    assert direct.outcome != "OK" or direct.marked, "the fault never acted"


async def test_a_lost_answer_leaves_the_payment_captured_and_its_replay_gets_it(
    start_gateway: StartServer, start_proxy: StartServer, session: aiohttp.ClientSession
) -> None:
    gateway = await start_gateway()
    proxy = await start_proxy(gateway.base)
    await proxy.add_active({"kind": "lost_response", "target": {"route": "pay"}})
    seen = await send(session, proxy.base, "pay", "lost-1")
    assert seen.outcome == "CONNECTION_ERROR"
    # The upstream committed it before the answer was cut: the gateway's own export says so.
    async with session.get(
        gateway.base + routes.EXPORT.path,
        params={"key_prefix": "lost-"},
        headers={"Authorization": "Bearer t"},
    ) as r:
        lines = [json.loads(line) for line in (await r.read()).splitlines() if line]
    assert [(p["key"], p["status"]) for p in lines] == [("lost-1", "SUCCEEDED")], lines
    await proxy.clear()
    body = payment_body("u000001", "m00001", 100)
    async with session.post(
        proxy.base + routes.PAY.path, json=body, headers={"Idempotency-Key": "lost-1"}
    ) as r:
        assert r.status == 200
        assert r.headers.get("Idempotent-Replayed") == "true"
        assert (await r.json())["status"] == "SUCCEEDED"
    events = await proxy.events()
    assert [e["kind"] for e in events] == ["lost_response"]
    assert events[0]["ended_unix"] is not None

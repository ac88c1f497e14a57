"""The proxy itself: what it forwards untouched, its own health, metrics and chaos API, the
kinds it refuses, admission in front of the upstream, the key its draws use, and its bounds."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from contract import routes
from fault_proxy.kinds import supported
from faults import REGISTRY, draw
from tests.fault_proxy.conftest import AUTH, StartServer
from tests.mock_gateway.support import payment_body


def upstream_app(seen: list[str], gate: asyncio.Event | None = None) -> web.Application:
    """An upstream that records what reaches it; /slow waits for `gate`; /big streams 1 MiB."""

    async def echo(request: web.Request) -> web.StreamResponse:
        seen.append(f"{request.method} {request.path_qs}")
        if request.path == "/slow" and gate is not None:
            await gate.wait()
        if request.path == "/big":
            resp = web.StreamResponse()
            await resp.prepare(request)
            for _ in range(16):
                await resp.write(b"x" * 65536)
            await resp.write_eof()
            return resp
        body = await request.read()
        return web.json_response(
            {"path": request.path_qs, "body": body.decode(), "key": request.headers.get("K")},
            headers={"X-Upstream": "yes"},
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


async def test_a_request_and_its_answer_pass_through_unchanged(
    start_app: StartServer, start_proxy: StartServer, session: aiohttp.ClientSession
) -> None:
    seen: list[str] = []
    upstream = await start_app(upstream_app(seen))
    proxy = await start_proxy(upstream.base)
    async with session.put(proxy.base + "/any/path?q=1", data=b"hello") as r:
        assert r.status == 200
        assert r.headers["X-Upstream"] == "yes"
        assert await r.json() == {"path": "/any/path?q=1", "body": "hello", "key": None}
    # Streamed both ways: a chunked upload arrives whole, and 1 MiB of answer.

    async def upload() -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            yield part

    async with session.post(proxy.base + "/up", data=upload()) as r:
        assert (await r.json())["body"] == "one,two,three"
    async with session.get(proxy.base + "/big") as r:
        assert len(await r.read()) == 16 * 65536
    assert seen == ["PUT /any/path?q=1", "POST /up", "GET /big"]


async def test_its_own_health_metrics_and_chaos_api(
    start_app: StartServer, start_proxy: StartServer, session: aiohttp.ClientSession
) -> None:
    seen: list[str] = []
    upstream = await start_app(upstream_app(seen))
    proxy = await start_proxy(upstream.base)
    async with session.get(proxy.base + routes.HEALTHZ.path) as r:
        assert (await r.json())["upstream"] == upstream.base
    await proxy.add_active({"kind": "latency", "params": {"ms": 1}})
    async with session.get(proxy.base + "/x") as r:
        assert r.headers["X-Paystorm-Fault"] == "f1"
    async with session.get(proxy.base + routes.FAULTS.path) as r:
        assert r.status == 401  # the chaos API needs the token
    async with session.get(proxy.base + routes.METRICS.path) as r:
        families = {f.name: f for f in text_string_to_metric_families(await r.text())}
    injected = {s.labels["kind"]: s.value for s in families["paystorm_faults_injected"].samples}
    assert injected["latency"] == 1
    assert "paystorm_admission_shed" in families
    assert seen == ["GET /x"]  # healthz, metrics and the chaos API are the proxy's own


async def test_kinds_that_act_inside_the_gateway_are_refused_with_the_reason(
    start_app: StartServer, start_proxy: StartServer, session: aiohttp.ClientSession
) -> None:
    upstream = await start_app(upstream_app([]))
    proxy = await start_proxy(upstream.base)
    refused = sorted(set(REGISTRY) - set(supported()))
    assert {
        "db_stall",
        "risk_slow",
        "risk_strict",
        "merchant_unsupported",
        "channel_outage",
    } <= set(refused)
    for kind in refused:
        spec = REGISTRY[kind].example_spec()
        async with session.post(proxy.base + routes.ADD_FAULT.path, json=spec, headers=AUTH) as r:
            assert r.status == 400
            (field,) = (await r.json())["error"]["fields"]
        assert field["field"] == "kind"
        assert field["reason"].startswith(f"{kind} acts inside the mock gateway")
        assert "\n" not in field["reason"]
    for kind in supported():
        spec = REGISTRY[kind].example_spec()
        async with session.post(proxy.base + routes.ADD_FAULT.path, json=spec, headers=AUTH) as r:
            assert r.status == 201, await r.text()


async def test_a_capacity_fault_sheds_in_front_of_the_upstream(
    start_app: StartServer, start_proxy: StartServer, session: aiohttp.ClientSession
) -> None:
    seen: list[str] = []
    gate = asyncio.Event()
    upstream = await start_app(upstream_app(seen, gate))
    proxy = await start_proxy(upstream.base)
    await proxy.add_active({"kind": "capacity", "params": {"max_inflight": 1, "queue": 0}})
    held = asyncio.ensure_future(session.get(proxy.base + "/slow"))
    while not seen:
        await asyncio.sleep(0.01)  # the first request holds the one slot, at the upstream
    async with session.get(proxy.base + "/second") as r:
        assert r.status == 503
        assert (await r.json())["error"]["code"] == "SYSTEM_BUSY"
        assert r.headers["Retry-After"] == "1"
        assert r.headers["X-Paystorm-Fault"] == "f1"
    gate.set()
    async with await held as r:
        assert r.status == 200
    assert seen == ["GET /slow"]  # the shed request never reached the upstream


async def test_draws_are_keyed_on_the_header_or_else_on_method_path_and_body(
    start_app: StartServer, start_proxy: StartServer, session: aiohttp.ClientSession
) -> None:
    upstream = await start_app(upstream_app([]))
    proxy = await start_proxy(upstream.base, key_header="K")
    seed, share = 3, 0.5
    await proxy.add_active(
        {"kind": "error", "params": {"code": "SYSTEM_BUSY", "rate": share}, "seed": seed}
    )
    body = b'{"a": 1}'
    expected: dict[str, bool] = {}
    got: dict[str, bool] = {}
    for i in range(40):
        key = f"key-{i}"
        expected[key] = draw(seed, "error", key) < share
        async with session.post(proxy.base + "/p", data=body, headers={"K": key}) as r:
            got[key] = r.status == 503
    digest = hashlib.blake2b(body, digest_size=8).hexdigest()
    for path in (f"/p{i}" for i in range(40)):
        key = f"POST {path} {digest}"
        expected[key] = draw(seed, "error", key) < share
        async with session.post(proxy.base + path, data=body) as r:
            got[key] = r.status == 503
    assert got == expected
    assert 0 < sum(got.values()) < len(got)


async def test_bounds_and_an_upstream_that_is_gone(
    start_app: StartServer, start_proxy: StartServer, session: aiohttp.ClientSession
) -> None:
    upstream = await start_app(upstream_app([]))
    proxy = await start_proxy(upstream.base, max_response_bytes=100_000)
    async with session.post(proxy.base + "/p", data=b"x" * (64 * 1024 + 1)) as r:
        assert r.status == 413
        assert (await r.json())["error"]["code"] == "PAYLOAD_TOO_LARGE"
    try:
        async with session.get(proxy.base + "/big") as r:
            got = len(await r.read())
    except aiohttp.ClientPayloadError:
        got = -1
    assert got < 16 * 65536  # cut short, never passed on whole
    gone = await start_proxy("http://127.0.0.1:9")
    async with session.post(
        gone.base + routes.PAY.path, json=payment_body("u000001", "m00001", 1)
    ) as r:
        assert r.status == 502
        assert (await r.json())["error"]["code"] == "UPSTREAM_UNAVAILABLE"


async def test_an_error_of_the_services_own_api_is_answered_as_given(
    start_app: StartServer, start_proxy: StartServer, session: aiohttp.ClientSession
) -> None:
    seen: list[str] = []
    upstream = await start_app(upstream_app(seen))
    proxy = await start_proxy(upstream.base)
    stripe_busy = '{"error": {"type": "api_error", "message": "busy"}}'
    await proxy.add_active(
        {"kind": "error", "params": {"status": 503, "body": stripe_busy}, "target": {"path": "/p"}}
    )
    async with session.post(proxy.base + "/p/1") as r:
        assert r.status == 503 and await r.text() == stripe_busy
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["X-Paystorm-Fault"] == "f1"
    async with session.post(proxy.base + "/q") as r:
        assert r.status == 200  # outside the fault's path
    assert seen == ["POST /q"]
    for params, field in (
        ({"code": "SYSTEM_BUSY", "status": 503}, "params.code"),
        ({}, "params.code"),
        ({"code": "SYSTEM_BUSY", "body": "x"}, "params.body"),
    ):
        spec = {"kind": "error", "params": params}
        async with session.post(proxy.base + routes.ADD_FAULT.path, json=spec, headers=AUTH) as r:
            assert r.status == 400
            assert [f["field"] for f in (await r.json())["error"]["fields"]] == [field]


async def test_a_keep_alive_connection_the_upstream_let_go_is_replaced(
    aiohttp_server: Any, start_proxy: StartServer, session: aiohttp.ClientSession
) -> None:
    seen: list[str] = []
    # The upstream closes an idle connection after 50 ms; the proxy's pool still holds it.
    server = await aiohttp_server(upstream_app(seen), keepalive_timeout=0.05)
    proxy = await start_proxy(str(server.make_url("")).rstrip("/"))
    for i in range(3):
        async with session.post(proxy.base + f"/p{i}", data=b"x") as r:
            assert r.status == 200, await r.text()
        await asyncio.sleep(0.2)  # longer than the upstream keeps an idle connection
    assert seen == ["POST /p0", "POST /p1", "POST /p2"]  # each sent once

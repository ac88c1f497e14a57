"""The proxy's fast lane: plain requests are forwarded by it while no fault is active; a fault,
the proxy's own paths or anything unusual hand the connection to aiohttp's server, which
answers as it did; every framing of an upstream's answer comes back as the upstream meant it;
what the lane forwards is counted like everything else."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from contract import routes
from fault_proxy import app as proxy_app
from fault_proxy import lane
from fault_proxy.app import ProxyRunner
from fault_proxy.app import create_app as create_proxy
from fault_proxy.config import ProxyConfig
from faults.admission import Admission
from faults.engine import FaultEngine
from faults.metrics import Recorder
from tests.fault_proxy.conftest import Server, StartServer
from tests.fault_proxy.test_proxy import upstream_app

# What a raw upstream answers, by path; "hang" never answers.
RAW_ANSWERS = {
    "/close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
    "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n",
    "/interim": b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "/empty": b"HTTP/1.1 204 No Content\r\nX-Upstream: raw\r\n\r\n",
    "/short": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    "/garbage": b"NOT HTTP AT ALL\r\n\r\n",
}


@pytest.fixture
async def raw_upstream() -> AsyncIterator[str]:
    """An upstream written byte by byte: each answer of RAW_ANSWERS, then the connection
    closed (kept open for /hang)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode()
        if path == "/hang":
            await reader.read()  # until the proxy lets go
        else:
            writer.write(RAW_ANSWERS[path])
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.close()
    await server.wait_closed()


async def _metrics(session: aiohttp.ClientSession, proxy: Server) -> dict[str, Any]:
    async with session.get(proxy.base + routes.METRICS.path) as r:
        return {f.name: f for f in text_string_to_metric_families(await r.text())}


async def _count(session: aiohttp.ClientSession, proxy: Server, name: str) -> float:
    (sample,) = (await _metrics(session, proxy))[name].samples
    return float(sample.value)


async def _proxied_requests(session: aiohttp.ClientSession, proxy: Server) -> float:
    family = (await _metrics(session, proxy))["paystorm_http_requests"]
    return float(
        sum(
            s.value
            for s in family.samples
            if s.labels["route"] == "proxied" and s.name.endswith("_total")
        )
    )


async def _exchange(base: str, raw: bytes) -> bytes:
    """`raw` written on one new connection; everything read back until it closes."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(raw)
    got = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return got


async def test_plain_requests_take_the_lane_until_a_fault_hands_the_connection_over(
    start_app: StartServer, start_proxy: StartServer
) -> None:
    seen: list[str] = []
    upstream = await start_app(upstream_app(seen))
    proxy = await start_proxy(upstream.base)
    # One connection for everything: the hand-over happens in the middle of it.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as one:
        for n in range(3):
            async with one.post(proxy.base + f"/p?n={n}", data=b"x" * n) as r:
                assert r.status == 200
                assert (await r.json())["body"] == "x" * n
                assert r.headers["X-Upstream"] == "yes"
                assert len(r.headers["X-Request-Id"]) == 16
        assert await _count(one, proxy, "paystorm_proxy_lane_requests") == 3
        assert await _count(one, proxy, "paystorm_proxy_handovers") == 1  # /metrics is own

        fault = await proxy.add_active(
            {"kind": "error", "params": {"code": "SYSTEM_BUSY"}, "target": {"path": "/p"}}
        )
        async with one.post(proxy.base + "/p?n=3") as r:
            assert r.status == 503
            assert r.headers["X-Paystorm-Fault"] == fault["id"]
        async with one.post(proxy.base + "/q") as r:
            assert r.status == 200  # outside the fault: forwarded by the full path
        assert await _count(one, proxy, "paystorm_proxy_lane_requests") == 3
        assert await _proxied_requests(one, proxy) == 5  # counted alike on either path
    await proxy.clear()
    async with aiohttp.ClientSession() as fresh:
        async with fresh.post(proxy.base + "/p?n=4") as r:
            assert r.status == 200
        assert await _count(fresh, proxy, "paystorm_proxy_lane_requests") == 4
    assert seen == [f"POST /p?n={n}" for n in range(3)] + ["POST /q", "POST /p?n=4"]


async def test_pipelined_requests_are_answered_in_order_and_close_is_honoured(
    start_app: StartServer, start_proxy: StartServer
) -> None:
    seen: list[str] = []
    upstream = await start_app(upstream_app(seen))
    proxy = await start_proxy(upstream.base)
    got = await _exchange(
        proxy.base,
        b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
        b"GET /third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    answers = got.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert [b'"path": "/first"' in a for a in answers] == [True, False, False]
    assert b'"body": "hi"' in answers[1] and b'"path": "/third"' in answers[2]
    assert b"Connection: close" in answers[2]  # and the connection closed: read() ended
    assert seen == ["GET /first", "POST /second", "GET /third"]


H = b"Host: x\r\n"
MALFORMED = {
    "bad-header": (b"GET /x HTTP/1.1\r\n" + H + b"Bad Header\r\n\r\n", 400),
    "two-lengths": (
        b"GET /x HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        400,
    ),
    "length-and-chunked": (
        b"GET /x HTTP/1.1\r\n"
        + H
        + b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "no-host": (b"GET /x HTTP/1.1\r\n\r\n", 400),
    "two-hosts": (b"GET /x HTTP/1.1\r\n" + H + H + b"\r\n", 400),
    "two-content-types": (
        b"GET /x HTTP/1.1\r\n" + H + b"Content-Type: a\r\nContent-Type: b\r\n\r\n",
        400,
    ),
    "tab-in-target": (b"GET /a\tb HTTP/1.1\r\n" + H + b"\r\n", 400),
    "bare-lf": (b"GET /x HTTP/1.1\nHost: x\n\n", 400),
    "too-many-headers": (
        b"GET /x HTTP/1.1\r\n" + H + b"".join(b"X-%d: 1\r\n" % n for n in range(100)) + b"\r\n",
        431,
    ),
    "url-too-long": (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414),
}


@pytest.mark.parametrize(("raw", "status"), MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_request_aiohttp_refuses_is_refused_and_never_forwarded(
    start_app: StartServer, start_proxy: StartServer, raw: bytes, status: int
) -> None:
    seen: list[str] = []
    upstream = await start_app(upstream_app(seen))
    proxy = await start_proxy(upstream.base)
    # The request and then a close: aiohttp answers what it refused, or the request it
    # answered with a catalogue error closes the connection.
    got = await _exchange(
        proxy.base, raw + b"GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert got.split(b" ", 2)[1] == str(status).encode(), got[:200]
    assert seen in ([], ["GET /after"]), seen  # never the refused request


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/close", 200, b"until the end"),
        ("/chunked", 200, b"onetwo"),
        ("/interim", 200, b"ok"),
        ("/empty", 204, b""),
    ],
)
async def test_every_framing_of_an_answer_comes_back_whole(
    raw_upstream: str,
    start_proxy: StartServer,
    session: aiohttp.ClientSession,
    path: str,
    status: int,
    body: bytes,
) -> None:
    proxy = await start_proxy(raw_upstream)
    async with session.get(proxy.base + path) as r:
        assert (r.status, await r.read()) == (status, body)
    assert await _count(session, proxy, "paystorm_proxy_lane_requests") == 1


@pytest.mark.parametrize("path", ["/short", "/garbage"])
async def test_a_broken_answer_cuts_the_clients_connection(
    raw_upstream: str, start_proxy: StartServer, session: aiohttp.ClientSession, path: str
) -> None:
    proxy = await start_proxy(raw_upstream)
    with pytest.raises(aiohttp.ClientError):  # a POST: aiohttp's client sends it only once
        async with session.post(proxy.base + path) as r:
            await r.read()
    family = (await _metrics(session, proxy))["paystorm_http_requests"]
    cut = [s for s in family.samples if s.labels == {"route": "proxied", "status": "499"}]
    assert [s.value for s in cut if s.name.endswith("_total")] == [1.0]


async def test_an_upstream_too_slow_is_answered_504_from_the_catalogue(
    raw_upstream: str, start_proxy: StartServer, session: aiohttp.ClientSession
) -> None:
    proxy = await start_proxy(raw_upstream, upstream_timeout_s=0.2)
    async with session.get(proxy.base + "/hang") as r:
        assert r.status == 504
        error = (await r.json())["error"]
    assert error["code"] == "CHANNEL_TIMEOUT"
    assert error["request_id"] == r.headers["X-Request-Id"]
    assert "0.2 s" in error["message"]


BIG = 4_000_000


@pytest.fixture
async def keepalive_upstream() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """An upstream that keeps its connections: /unsol answers, then sends a second answer
    nobody asked for (and sets the event); /slow answers after 0.3 s; /big sends BIG bytes;
    /trickle sends 8 chunks 0.1 s apart; anything else answers its own path."""
    stray_sent = asyncio.Event()

    def answer(body: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                if path == b"/unsol":
                    writer.write(answer(b"first"))
                    await asyncio.sleep(0.1)
                    writer.write(answer(b"STRAY"))
                    stray_sent.set()
                elif path == b"/slow":
                    await asyncio.sleep(0.3)
                    writer.write(answer(b"slow"))
                elif path == b"/big":
                    writer.write(answer(b"x" * BIG))
                elif path == b"/trickle":
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    for n in range(8):
                        writer.write(b"2\r\n%02d\r\n" % n)
                        await writer.drain()
                        await asyncio.sleep(0.1)
                    writer.write(b"0\r\n\r\n")
                else:
                    writer.write(answer(path))
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", stray_sent
    server.close()
    await server.wait_closed()


async def test_an_answer_nobody_asked_for_never_reaches_the_next_client(
    keepalive_upstream: tuple[str, asyncio.Event], start_proxy: StartServer
) -> None:
    base, stray_sent = keepalive_upstream
    proxy = await start_proxy(base)
    async with aiohttp.ClientSession() as one:
        async with one.get(proxy.base + "/unsol") as r:
            assert await r.read() == b"first"
        await asyncio.wait_for(stray_sent.wait(), 10)
    async with aiohttp.ClientSession() as a, aiohttp.ClientSession() as b:

        async def get(session: aiohttp.ClientSession, path: str) -> bytes:
            async with session.get(proxy.base + path) as r:
                return await r.read()

        slow = asyncio.ensure_future(get(a, "/slow"))
        await asyncio.sleep(0.05)  # the slow request holds the only pooled connection first
        assert await get(b, "/mine") == b"/mine"
        assert await slow == b"slow"


async def test_a_client_slow_to_read_a_large_answer_leaves_the_pool_usable(
    keepalive_upstream: tuple[str, asyncio.Event], start_proxy: StartServer
) -> None:
    base, _ = keepalive_upstream
    proxy = await start_proxy(base)
    host, port = proxy.base.removeprefix("http://").rsplit(":", 1)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the proxy must pause for it
    sock.connect((host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert b"Content-Length: %d" % BIG in head
    assert len(await asyncio.wait_for(reader.readexactly(BIG), 30)) == BIG
    writer.close()
    async with (
        aiohttp.ClientSession() as fresh,
        fresh.get(proxy.base + "/after", timeout=aiohttp.ClientTimeout(total=5)) as r,
    ):
        assert (r.status, await r.read()) == (200, b"/after")


async def test_a_streamed_answer_has_no_deadline_once_under_way(
    keepalive_upstream: tuple[str, asyncio.Event],
    start_proxy: StartServer,
    session: aiohttp.ClientSession,
) -> None:
    base, _ = keepalive_upstream
    proxy = await start_proxy(base, upstream_timeout_s=0.3)  # shorter than the whole answer
    async with session.get(proxy.base + "/trickle") as r:
        assert await r.read() == b"".join(b"%02d" % n for n in range(8))


class _Transport:
    """What FrontConn writes to, recorded."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def test_pipelined_requests_start_one_at_a_time_however_the_bytes_arrive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request completed in the same turn as the previous answer, and another behind it:
    the second starts, the third waits for the second's answer."""
    started: list[lane.Exchange] = []
    monkeypatch.setattr(lane.Exchange, "_send", lambda self, loop: started.append(self))
    config = ProxyConfig(upstream="http://127.0.0.1:9")
    engine = FaultEngine(inflight=lambda: 0, now_iso=lambda: "")
    the_lane = lane.Lane(config, Recorder(), engine, Admission(config.profile.capacity))
    front = lane.FrontConn(the_lane, lambda f: pytest.fail("handed over"))
    front.connection_made(_Transport())  # type: ignore[arg-type]
    front.data_received(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b")
    first = started[-1]
    first.done()  # its answer complete: the rest of /b arrives in the same turn
    front.data_received(b" HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0)  # what finished() scheduled runs
    assert [e._data.split(b" ")[1] for e in started] == [b"/a", b"/b"]
    started[-1].done()
    await asyncio.sleep(0)
    assert [e._data.split(b" ")[1] for e in started] == [b"/a", b"/b", b"/c"]


async def test_stopping_lets_an_answer_under_way_finish_and_closes_idle_connections(
    start_app: StartServer,
) -> None:
    seen: list[str] = []
    gate = asyncio.Event()
    upstream = await start_app(upstream_app(seen, gate))
    runner = ProxyRunner(create_proxy(ProxyConfig(upstream=upstream.base)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
    idle_writer.write(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
    await idle_reader.readuntil(b'"key": null}')  # answered; the connection now idles
    busy_reader, busy_writer = await asyncio.open_connection("127.0.0.1", port)
    busy_writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    while "GET /slow" not in seen:
        await asyncio.sleep(0.01)  # at the upstream, not answered yet
    stopping = asyncio.ensure_future(runner.cleanup())
    assert await asyncio.wait_for(idle_reader.read(), 10) == b""  # closed at once
    gate.set()
    answer = await asyncio.wait_for(busy_reader.read(), 10)  # then closed
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b'"path": "/slow"' in answer
    await asyncio.wait_for(stopping, 10)
    for writer in (idle_writer, busy_writer):
        writer.close()


async def test_an_idle_lane_connection_closes_after_keep_alive(
    start_app: StartServer, start_proxy: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proxy_app, "KEEPALIVE_S", 0.2)
    monkeypatch.setattr(proxy_app, "SWEEP_S", 0.05)
    upstream = await start_app(upstream_app([]))
    proxy = await start_proxy(upstream.base)
    host, port = proxy.base.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 10)  # the answer, then keep-alive's end
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    writer.close()

"""The proxy's fast lane: while no fault is active, a plain request (a known method, a body of
known small length, none of the proxy's own paths) is forwarded by a small HTTP/1.1 protocol
on each side, its answer passed back as it comes. Anything else hands the client's connection
over to aiohttp's server for good, with the bytes read so far (fault_proxy/app.py): the faults,
the chaos API, large or chunked uploads and every malformed request are served there.

Through aiohttp's server and a stream-based client, a forwarded request cost about 2.5 times
a bare aiohttp handler's CPU, over half of it in machinery forwarding does not need (the
router, a request object, the middleware, stream readers); this lane does only what
forwarding needs.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

import httptools
import orjson
from aiohttp.http_parser import SINGLETON_HEADERS
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from contract import limits, routes
from contract.codes import GatewayError, error_body
from contract.serving import new_request_id
from fault_proxy.config import ProxyConfig
from faults.admission import Admission
from faults.engine import FaultEngine
from faults.metrics import Recorder

OWN_PATHS = (routes.HEALTHZ.path, routes.METRICS.path)
CHAOS_PREFIX = "/_chaos/"
"""The proxy's own chaos API; everything else, /_admin/ included, is the upstream's."""

# Headers of one hop (RFC 9110 section 7.6.1), never passed on; the lengths are set anew, and
# an Expect is answered by the proxy's own server.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",
    }
)
WHOLE_BYTES = 64 * 1024
"""A body this small, of known length, is read whole and sent in one write."""
MAX_HEAD_BYTES = 8190
"""A longer request head goes to aiohttp's parser, whose limits answer it."""
LANE_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A HEAD's answer has a length and no body, which the answer's parser cannot know of: aiohttp.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
NO_BODY = frozenset({204, 304})
LABEL = "proxied"
DROPPED = 499  # never sent: only the metrics see it

# The headers aiohttp's parser refuses to see twice in a request.
_SINGLETONS = frozenset(name.lower() for name in SINGLETON_HEADERS)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Only printable ASCII, tabs and CRLF line ends: anything else is aiohttp's to judge.
_ODD = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]|\r(?!\n)|(?<!\r)\n")


def own(path: str) -> bool:
    """Whether the proxy answers `path` itself; every other path is the upstream's."""
    return path in OWN_PATHS or path.startswith(CHAOS_PREFIX)


@dataclass(slots=True)
class Plain:
    """A request the lane can forward: its head as the upstream gets it and its body's size."""

    head: bytes
    length: int
    close: bool
    """The client asked to close the connection after this answer."""


def plain(buf: bytes, end: int, authority: str) -> Plain | None:
    """The request whose head ends at `end` in `buf`, if the lane may forward it; None hands
    it to aiohttp (a fault, an own path, a large or chunked body, anything unusual)."""
    if end > MAX_HEAD_BYTES or _ODD.search(buf, 0, end):
        return None
    request_line, *lines = buf[:end].decode("ascii").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    if version != "HTTP/1.1" or method not in LANE_METHODS or target[:1] != "/":
        return None
    if "\t" in request_line or "#" in target or len(target) > limits.MAX_URL_BYTES:
        return None
    if len(lines) > limits.MAX_HEADERS:
        return None  # the full path answers 414 or 431 from the catalogue
    path = target.partition("?")[0]
    if "%" in path or own(path):  # aiohttp decodes the path before it routes
        return None
    out = [f"{method} {target} HTTP/1.1", f"Host: {authority}"]
    length: int | None = None
    close = False
    seen: set[str] = set()
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            return None
        low = name.lower()
        if low in _SINGLETONS:
            if low in seen:
                return None  # aiohttp refuses a second Host, Content-Type, …
            seen.add(low)
        if low not in HOP_BY_HOP:
            out.append(line)
        elif low == "content-length":
            value = value.strip(" \t")
            if length is not None or not value.isdigit():
                return None
            length = int(value)
        elif low == "connection":
            tokens = {t.strip(" \t").lower() for t in value.split(",")}
            if not tokens <= {"close", "keep-alive"}:
                return None  # an upgrade, or other headers named hop-by-hop
            close = "close" in tokens
        elif low != "host":
            return None  # a chunked body, an Expect, an upgrade: aiohttp's
    if "host" not in seen:
        return None  # aiohttp refuses an HTTP/1.1 request without one
    if length is None:
        length = 0
        if method in BODY_METHODS:
            out.append("Content-Length: 0")
    elif length > WHOLE_BYTES:
        return None
    else:
        out.append(f"Content-Length: {length}")
    out.append("\r\n")
    return Plain("\r\n".join(out).encode("ascii"), length, close)


def error_answer(err: GatewayError, request_id: str, close: bool) -> tuple[int, bytes]:
    """The catalogue's answer for `err`, as bytes on the wire, with its status."""
    body = orjson.dumps(error_body(err, request_id))
    status = err.spec.http_status
    lines = [
        f"HTTP/1.1 {status} {_reason(status)}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"X-Request-Id: {request_id}",
    ]
    if err.retry_after_s is not None:
        lines.append(f"Retry-After: {err.retry_after_s}")
    if close:
        lines.append("Connection: close")
    lines.append("\r\n")
    return status, "\r\n".join(lines).encode("ascii") + body


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class Lane:
    """The fast lane's state: the upstream's keep-alive connections and what a request in it
    counts (the proxy's request metrics, its admission's in-flight count)."""

    def __init__(
        self,
        config: ProxyConfig,
        http: Recorder,
        engine: FaultEngine,
        admission: Admission,
    ) -> None:
        parts = urlsplit(config.upstream)
        self.host = parts.hostname or ""
        self.port = parts.port or 80
        self.authority = f"[{self.host}]:{self.port}" if ":" in self.host else parts.netloc
        self.config = config
        self.http = http
        self.admission = admission
        self._engine = engine
        self.idle: list[UpstreamConn] = []
        self._conns: set[UpstreamConn] = set()
        self.closed = False
        self.forwarded = 0
        self.handed_over = 0
        self.connecting: set[asyncio.Task[None]] = set()
        """Connections being opened: the loop keeps only a weak reference to a task."""

    def quiet(self) -> bool:
        """No fault active and nobody waiting for admission: a request needs only forwarding."""
        return not self._engine.active_total and not self.admission.queued

    def release(self, conn: UpstreamConn) -> None:
        if self.closed or len(self.idle) >= 512:
            conn.close()
        else:
            self.idle.append(conn)

    def opened(self, conn: UpstreamConn) -> None:
        self._conns.add(conn)

    def forget(self, conn: UpstreamConn) -> None:
        self._conns.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)

    def close(self) -> None:
        self.closed = True
        for conn in list(self._conns):
            conn.close()
        self.idle.clear()


class LaneCollector(Collector):
    """How much of the traffic the fast lane carried, read at scrape time: a connection is
    handed over when a fault is active, and stays with aiohttp's server after."""

    def __init__(self, lane: Lane) -> None:
        self._lane = lane

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "paystorm_proxy_lane_requests",
            "Requests forwarded by the fast lane (no fault active, a plain request).",
            value=self._lane.forwarded,
        )
        yield CounterMetricFamily(
            "paystorm_proxy_handovers",
            "Client connections handed from the fast lane to the full path (faults, the "
            "proxy's own routes, streamed uploads, anything unusual).",
            value=self._lane.handed_over,
        )


class UpstreamConn(asyncio.Protocol):
    """One keep-alive connection to the upstream; the answer's head and body are handed to
    the exchange that sent the request as they are parsed. It goes back to the pool only
    after a whole read is parsed, reading again, and with nothing in it but that answer."""

    def __init__(self, lane: Lane) -> None:
        self._lane = lane
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.reused = False
        self.heard = False
        self.paused = False
        self._interim = False
        self._finished: Exchange | None = None
        self._stray = False
        self._keep_alive = False
        self._reason = b""
        self._headers: list[tuple[bytes, bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream's, under any loop
        self._lane.opened(self)

    def send(self, exchange: Exchange, data: bytes) -> None:
        assert self.transport is not None
        self.exchange, self.heard = exchange, False
        exchange.upstream = self
        self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def pause(self) -> None:
        if self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and self.paused:
            self.paused = False
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.exchange is None:
            self.close()  # nothing was asked: an upstream that speaks out of turn is broken
            return
        self.heard = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self._finished is None:
                self._broken(f"not an HTTP answer ({exc})")
                return
            self._stray = True  # garbage after a whole answer
        finished, self._finished = self._finished, None
        if finished is None:
            return
        # Pooled only once this read is done: a second answer in it, or a connection that
        # says it closes, is never handed to the next request.
        if self._keep_alive and not self._stray:
            self.reused = True
            self.resume()
            self._lane.release(self)
        else:
            self.close()
        finished.done()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lane.forget(self)
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.upstream_lost(self)

    def _broken(self, why: str) -> None:
        exchange, self.exchange = self.exchange, None
        self.close()
        if exchange is not None:
            exchange.broken(why)

    # httptools' callbacks

    def on_message_begin(self) -> None:
        if self._finished is not None:
            self._stray = True  # a second answer to one request
        self._headers = []
        self._reason = b""

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        self._interim = status < 200  # 1xx: an interim answer, the final one follows
        if not self._interim and self.exchange is not None:
            self.exchange.head(status, self._reason, self._headers)

    def on_body(self, body: bytes) -> None:
        if self.exchange is not None:
            self.exchange.body(body)

    def on_message_complete(self) -> None:
        if self._interim or self.exchange is None:
            return
        self._finished, self.exchange = self.exchange, None
        self._keep_alive = self._parser.should_keep_alive()
        self._stray = False


class Exchange:
    """One request in the lane: sent upstream, its answer written back to the client's
    connection as it comes (whole when small), its outcome counted."""

    __slots__ = (
        "_chunked",
        "_client",
        "_data",
        "_head",
        "_length_unknown",
        "_over",
        "_parts",
        "_seen",
        "_started",
        "_status",
        "_timer",
        "_whole",
        "close",
        "upstream",
    )

    def __init__(self, client: FrontConn, data: bytes, close: bool) -> None:
        self._client = client
        self._data = data
        self.close = close
        self.upstream: UpstreamConn | None = None
        self._started = time.perf_counter()
        self._status = 0
        self._head: bytes | None = None
        self._parts: list[bytes] = []
        self._whole = False
        self._chunked = False
        self._length_unknown = False
        self._seen = 0
        self._timer: asyncio.TimerHandle | None = None
        self._over = False

    @property
    def lane(self) -> Lane:
        return self._client.lane

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        lane = self.lane
        lane.forwarded += 1
        lane.http.inflight += 1
        lane.admission.inflight += 1
        self._timer = loop.call_later(lane.config.upstream_timeout_s, self._timed_out)
        self._send(loop)

    def _send(self, loop: asyncio.AbstractEventLoop) -> None:
        lane = self.lane
        while lane.idle:
            conn = lane.idle.pop()
            if conn.transport is not None and not conn.transport.is_closing():
                conn.send(self, self._data)
                return
        task = loop.create_task(self._connect())
        lane.connecting.add(task)
        task.add_done_callback(lane.connecting.discard)

    async def _connect(self) -> None:
        lane = self.lane
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: UpstreamConn(lane), lane.host, lane.port)
        except OSError as exc:
            detail = f"({exc.strerror or exc})"
            self._refused(GatewayError("UPSTREAM_UNAVAILABLE", detail=detail))
            return
        if self._status or self._over:
            conn.close()  # answered meanwhile (timed out)
            return
        conn.send(self, self._data)

    def upstream_lost(self, conn: UpstreamConn) -> None:
        """The upstream closed the connection before the answer was complete."""
        if not self._status:
            if conn.reused and not conn.heard:
                self._send(asyncio.get_running_loop())  # an idle connection the upstream let go
            else:
                self.broken("the upstream closed the connection")
        elif self._length_unknown:
            self.done()  # a body that ends when the connection does
        else:
            self.broken("the answer ended early")

    def head(self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        lane = self.lane
        lines = [b"HTTP/1.1 %d %s" % (status, reason)]
        length: int | None = None
        chunked = has_id = False
        for name, value in headers:
            low = name.lower().decode("latin-1")
            if low not in HOP_BY_HOP:
                has_id = has_id or low == "x-request-id"
                lines.append(name + b": " + value)
            elif low == "content-length":
                try:
                    length = int(value)
                except ValueError:  # a list of lengths the parser let through
                    self.broken("a bad Content-Length")
                    return
            elif low == "transfer-encoding":
                chunked = b"chunked" in value.lower()
        if not has_id:
            lines.append(b"X-Request-Id: " + new_request_id().encode())
        if self.close:
            lines.append(b"Connection: close")
        self._status = status
        if chunked or (length is None and status not in NO_BODY):
            self._length_unknown = not chunked
            self._chunked = True  # passed on as it comes, in chunks
            lines.append(b"Transfer-Encoding: chunked")
        elif length is not None:
            if length > lane.config.max_response_bytes:
                self.broken("the answer is too large")  # nothing of it is sent
                return
            lines.append(b"Content-Length: %d" % length)
            self._whole = length <= WHOLE_BYTES
        else:
            self._whole = True
        lines.append(b"\r\n")
        head = b"\r\n".join(lines)
        if self._whole:
            self._head = head
        else:
            self._head = b""
            self._client.write(head)
            self._stop_timer()  # as on the full path: a stream under way has no deadline

    def body(self, data: bytes) -> None:
        self._seen += len(data)
        if self._seen > self.lane.config.max_response_bytes:
            self.broken("the answer is too large")
        elif self._whole:
            self._parts.append(data)
        elif self._chunked:
            self._client.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            self._client.write(data)

    def done(self) -> None:
        if self._over:
            return  # already answered
        if self._whole:
            assert self._head is not None
            self._client.write(self._head + b"".join(self._parts))
        elif self._chunked:
            self._client.write(b"0\r\n\r\n")
        self._finish(self._status)

    def broken(self, why: str) -> None:
        """The answer cannot be passed on: the client's connection is cut, as the upstream's
        was (an answer too large, or broken on the way)."""
        if self._over:
            return
        self._let_go_of_upstream()
        self._client.abort()
        self._finish(DROPPED)

    def _let_go_of_upstream(self) -> None:
        """Close the upstream connection with this request's answer still on it."""
        upstream, self.upstream = self.upstream, None
        if upstream is not None and upstream.exchange is self:
            upstream.exchange = None
            upstream.close()

    def _refused(self, err: GatewayError) -> None:
        if self._over:
            return
        status, data = error_answer(err, new_request_id(), self.close)
        self._client.write(data)
        self._finish(status)

    def _timed_out(self) -> None:
        # Only before the head of a streamed answer, or while a whole one is read: nothing of
        # the answer has reached the client yet.
        self._timer = None
        if self._over:
            return
        self._let_go_of_upstream()
        timeout_s = self.lane.config.upstream_timeout_s
        detail = f"(no answer from upstream in {timeout_s:g} s)"
        self._refused(GatewayError("CHANNEL_TIMEOUT", detail=detail))

    def _stop_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _finish(self, status: int) -> None:
        self._over = True
        self._stop_timer()
        lane = self.lane
        lane.http.inflight -= 1
        lane.admission.leave()
        lane.http.answered(LABEL, status, time.perf_counter() - self._started)
        self._client.finished(self)


class FrontConn(asyncio.Protocol):
    """One client connection while its requests need only forwarding: one request at a time
    (a pipelined next one waits for the answer before it)."""

    def __init__(self, lane: Lane, hand_over: Callable[[FrontConn], None]) -> None:
        self.lane = lane
        self._hand_over = hand_over
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.exchange: Exchange | None = None
        self.eof = False
        self.reading_paused = False
        self.writing_paused = False
        self.closing = False
        self.idle_since = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.closing = True

    def eof_received(self) -> bool:
        self.eof = True
        # Idle: the transport closes itself. Busy: half open, the answer under way is sent.
        return self.exchange is not None

    def pause_writing(self) -> None:
        self.writing_paused = True
        exchange = self.exchange
        if exchange is not None and exchange.upstream is not None:
            exchange.upstream.pause()

    def resume_writing(self) -> None:
        self.writing_paused = False
        exchange = self.exchange
        if exchange is not None and exchange.upstream is not None:
            exchange.upstream.resume()
        elif exchange is None:
            self._next()  # a request that waited for the client to read its last answer

    def data_received(self, data: bytes) -> None:
        self.buf = self.buf + data if self.buf else data
        if self.exchange is not None:
            if len(self.buf) > WHOLE_BYTES + MAX_HEAD_BYTES and not self.reading_paused:
                assert self.transport is not None
                self.reading_paused = True
                self.transport.pause_reading()
            return
        self._next()

    def _next(self) -> None:
        buf = self.buf
        if not buf or self.transport is None or self.closing:
            return
        if self.exchange is not None or self.writing_paused:
            return  # one at a time, and none while the client has not read the last answer
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            # A head cut short by a read may end in CR: only the rest is judged yet.
            head = buf[:-1] if buf.endswith(b"\r") else buf
            if len(buf) > MAX_HEAD_BYTES or _ODD.search(head):
                self._hand_over(self)  # bare LF line ends and the like: aiohttp's 400
            return
        request = plain(buf, end, self.lane.authority) if self.lane.quiet() else None
        if request is None:
            self._hand_over(self)
            return
        start = end + 4
        stop = start + request.length
        if len(buf) < stop:
            return  # the rest of the body is on its way
        self.buf = buf[stop:]
        self.exchange = Exchange(self, request.head + buf[start:stop], request.close or self.eof)
        self.exchange.start(asyncio.get_running_loop())

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
        self.closing = True

    def finished(self, exchange: Exchange) -> None:
        self.exchange = None
        self.idle_since = time.monotonic()
        if exchange.close or self.closing or self.eof:
            if self.transport is not None:
                self.transport.close()
            self.closing = True
            return
        if self.reading_paused and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        if self.buf:
            asyncio.get_running_loop().call_soon(self._next)  # a pipelined request

    def close_if_idle_since(self, moment: float) -> None:
        """Close a connection that has been idle since before `moment` (keep-alive's end)."""
        if self.exchange is None and self.idle_since < moment and self.transport is not None:
            self.transport.close()

    def close_when_idle(self) -> None:
        """The server is stopping: close now if idle, else after the answer under way."""
        self.closing = True
        if self.exchange is None and self.transport is not None:
            self.transport.close()

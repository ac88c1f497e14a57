"""The proxy's HTTP/1.1 client to its one upstream: a pool of keep-alive connections on asyncio
streams, the request written as it arrives, the answer's head parsed and its body read whole
or handed over as it comes.

aiohttp's own client spent about four times the CPU per request of these few lines (measured
side by side on one small JSON payment), and a proxy in front of a fast service is as slow as
its client: this one does only what forwarding needs (no cookies, redirects, decompression).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

MAX_HEAD_BYTES = 64 * 1024
"""An answer's status line and headers together; past it the answer is broken."""
NO_BODY = frozenset({204, 304})


class UpstreamBroken(Exception):
    """The upstream closed or broke the connection, or answered something that is not HTTP."""


class Unreachable(UpstreamBroken):
    """The upstream refused the connection: nothing was sent."""


@dataclass(slots=True)
class Streamed:
    """A request body sent as it arrives: `length` bytes, or chunked when None."""

    chunks: AsyncIterator[bytes]
    length: int | None
    started: bool = False
    """Some of it was sent: the request cannot be sent again."""


Body = bytes | Streamed | None


@dataclass(slots=True)
class Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reused: bool = False

    def close(self) -> None:
        self.writer.close()


@dataclass(slots=True)
class Reply:
    """An answer's head; its body is `body` (read whole) or comes from `chunks()`."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    length: int | None  # Content-Length; None: chunked or until the connection closes
    chunked: bool
    keep_alive: bool
    body: bytes | None = None
    _conn: Conn | None = field(default=None, repr=False)
    _pool: Upstream | None = field(default=None, repr=False)

    async def read(self, max_bytes: int) -> bytes:
        """The whole body, at most `max_bytes` (else UpstreamBroken)."""
        if self.body is None:
            parts, seen = [], 0
            async for chunk in self.chunks():
                seen += len(chunk)
                if seen > max_bytes:
                    raise UpstreamBroken(f"answer over {max_bytes} bytes")
                parts.append(chunk)
            self.body = b"".join(parts)
        return self.body

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; the connection goes back to the pool once it is all read."""
        conn = self._conn
        if conn is None:
            if self.body:
                yield self.body
            return
        self._conn = None
        done = False
        try:
            reader = conn.reader
            if self.chunked:
                while True:
                    size_line = await reader.readuntil(b"\r\n")
                    size = int(size_line.split(b";", 1)[0], 16)
                    if size == 0:
                        while await reader.readuntil(b"\r\n") != b"\r\n":
                            pass  # trailers: not passed on
                        break
                    data = await reader.readexactly(size + 2)
                    yield data[:-2]
            elif self.length is not None:
                left = self.length
                while left:
                    data = await reader.read(min(left, 256 * 1024))
                    if not data:
                        raise UpstreamBroken("the answer ended early")
                    left -= len(data)
                    yield data
            else:
                while data := await reader.read(256 * 1024):
                    yield data
            done = True
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            raise UpstreamBroken(f"a broken answer body ({exc})") from None
        except OSError as exc:
            raise UpstreamBroken(str(exc)) from None
        finally:
            if done and self.keep_alive and self._pool is not None:
                self._pool.release(conn)
            else:
                conn.close()


class Upstream:
    """Keep-alive connections to `host`:`port`, idle ones kept up to `max_idle`."""

    def __init__(self, host: str, port: int, max_idle: int = 512) -> None:
        self._host = host
        self._port = port
        self._authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._idle: list[Conn] = []
        self._max_idle = max_idle

    def release(self, conn: Conn) -> None:
        if len(self._idle) < self._max_idle and not conn.writer.is_closing():
            conn.reused = True
            self._idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()

    async def _connect(self) -> Conn:
        try:
            reader, writer = await asyncio.open_connection(
                self._host, self._port, limit=MAX_HEAD_BYTES
            )
        except OSError as exc:
            raise Unreachable(exc.strerror or str(exc)) from None
        return Conn(reader, writer)

    async def send(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: Body,
        *,
        whole_up_to: int,
    ) -> Reply:
        """Send one request and read the answer's head; a body of at most `whole_up_to` known
        bytes is read with it. A reused connection the upstream had closed meanwhile is tried
        again on a new one, unless some of a streamed body was sent already."""
        head = self._head(method, target, headers, body)
        while True:
            conn = self._idle.pop() if self._idle else await self._connect()
            try:
                return await self._exchange(conn, method, head, body, whole_up_to)
            except UpstreamBroken:
                conn.close()
                if conn.reused and not (isinstance(body, Streamed) and body.started):
                    continue  # an idle connection the upstream had let go
                raise

    def _head(self, method: str, target: str, headers: list[tuple[str, str]], body: Body) -> bytes:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._authority}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if isinstance(body, bytes):
            lines.append(f"Content-Length: {len(body)}")
        elif body is not None:
            known = body.length is not None
            lines.append(
                f"Content-Length: {body.length}" if known else "Transfer-Encoding: chunked"
            )
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _exchange(
        self,
        conn: Conn,
        method: str,
        head: bytes,
        body: Body,
        whole_up_to: int,
    ) -> Reply:
        writer, reader = conn.writer, conn.reader
        try:
            if isinstance(body, bytes):
                writer.write(head + body)
            else:
                writer.write(head)
                if body is not None:
                    await _stream(writer, body)
            reply = _parse(await reader.readuntil(b"\r\n\r\n"), method)
            while reply.status < 200:  # 1xx: an interim answer, the final one follows
                reply = _parse(await reader.readuntil(b"\r\n\r\n"), method)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError) as exc:
            raise UpstreamBroken(f"no answer ({type(exc).__name__})") from None
        reply._conn, reply._pool = conn, self
        if reply.length is not None and reply.length <= whole_up_to and not reply.chunked:
            reply.body = await reply.read(whole_up_to)
        return reply


async def _stream(writer: asyncio.StreamWriter, body: Streamed) -> None:
    chunked = body.length is None
    async for chunk in body.chunks:
        body.started = True
        writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
        await writer.drain()
    if chunked:
        writer.write(b"0\r\n\r\n")


def _parse(raw: bytes, method: str) -> Reply:
    try:
        text = raw.decode("latin-1")
        status_line, *lines = text[:-4].split("\r\n")
        version, status_text, *reason = status_line.split(" ", 2)
        status = int(status_text)
        if not version.startswith("HTTP/1.") or not 100 <= status <= 599:
            raise ValueError(status_line)
    except ValueError as exc:
        raise UpstreamBroken(f"not an HTTP answer ({exc})") from None
    headers: list[tuple[str, str]] = []
    length, chunked = None, False
    keep_alive = version == "HTTP/1.1"
    for line in lines:
        name, _, value = line.partition(":")
        value = value.strip()
        low = name.strip().lower()
        if low == "content-length":
            try:
                length = int(value)
            except ValueError:
                raise UpstreamBroken(f"a bad Content-Length ({value!r})") from None
        elif low == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif low == "connection":
            keep_alive = "close" not in value.lower() and (
                keep_alive or "keep-alive" in value.lower()
            )
        headers.append((name.strip(), value))
    if method == "HEAD" or status in NO_BODY or status < 200:
        length, chunked = 0, False
    if length is None and not chunked:
        keep_alive = False  # the body ends when the connection does
    return Reply(status, reason[0] if reason else "", headers, length, chunked, keep_alive)

"""Forwarding one request to the upstream and its answer back: keep-alive connections to the
upstream, bodies streamed both ways unless a fault needs the whole answer, sizes bounded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, MultiMapping

from contract import limits
from contract.codes import GatewayError
from fault_proxy.config import ProxyConfig
from fault_proxy.keys import REQUEST_ID, config_key, session_key
from faults import Dropped

# Headers of one hop (RFC 9110 section 7.6.1), never passed on; the lengths are set anew.
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
    }
)
WHOLE_BYTES = 64 * 1024
"""An answer this small, of known length, is read whole and sent in one write: the usual
small JSON answer costs one buffer, not a stream."""


def passed_on(headers: MultiMapping[str]) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        if name.lower() not in HOP_BY_HOP:
            out.add(name, value)
    return out


async def _streamed(request: web.Request, max_bytes: int) -> AsyncIterator[bytes]:
    """The request body as it arrives; past `max_bytes` the upload stops with 413."""
    seen = 0
    async for chunk in request.content.iter_any():
        seen += len(chunk)
        if seen > max_bytes:
            raise limits.body_too_large(max_bytes)
        yield chunk


def session(config: ProxyConfig) -> aiohttp.ClientSession:
    """One pool of keep-alive connections to the upstream; bodies as sent (no decompression),
    no redirects followed, no cookies kept: the client sees the upstream's answer as it was."""
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
    timeout = aiohttp.ClientTimeout(total=config.upstream_timeout_s, sock_connect=5)
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),  # one client's cookies are never another's
        timeout=timeout,
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
    )


async def exchange(request: web.Request, body: bytes | None, *, whole: bool) -> web.StreamResponse:
    """Send the request upstream (its `body` if already read, else streamed) and return the
    answer: whole (a `web.Response`, for faults that reshape it) when `whole`, else streamed
    to the client as it comes unless it is small. The upstream unreachable: 502
    UPSTREAM_UNAVAILABLE; too slow: 504 CHANNEL_TIMEOUT; the upstream's answer broken or too
    large once under way: the client's connection is cut (`Dropped`), as it was."""
    config = request.app[config_key]
    headers = passed_on(request.headers)
    data: bytes | AsyncIterator[bytes] | None = body
    if body is None and request.body_exists:
        data = _streamed(request, config.max_body_bytes)
        if request.content_length is not None:
            headers["Content-Length"] = str(request.content_length)
    url = config.upstream + request.raw_path
    try:
        async with request.app[session_key].request(
            request.method, url, headers=headers, data=data, allow_redirects=False
        ) as up:
            return await _answer(request, up, config, whole=whole)
    except aiohttp.ClientConnectorError as exc:
        raise GatewayError(
            "UPSTREAM_UNAVAILABLE", detail=f"({exc.os_error.strerror or exc.os_error})"
        ) from None
    except TimeoutError:
        raise GatewayError(
            "CHANNEL_TIMEOUT",
            detail=f"(no answer from upstream in {config.upstream_timeout_s:g} s)",
        ) from None
    except (aiohttp.ClientError, ConnectionError):
        raise Dropped from None


async def _answer(
    request: web.Request, up: aiohttp.ClientResponse, config: ProxyConfig, *, whole: bool
) -> web.StreamResponse:
    headers = passed_on(up.headers)
    length = up.content_length
    if length is not None and length > config.max_response_bytes:
        raise Dropped  # nothing of it is read or sent
    if whole or (length is not None and length <= WHOLE_BYTES):
        body = await _read_whole(up, config.max_response_bytes)
        return web.Response(status=up.status, reason=up.reason, body=body, headers=headers)
    resp = web.StreamResponse(status=up.status, reason=up.reason, headers=headers)
    resp.headers.setdefault("X-Request-Id", request[REQUEST_ID])  # now: sent with prepare()
    if length is not None:
        resp.content_length = length
    await resp.prepare(request)
    sent = 0
    async for chunk in up.content.iter_any():
        sent += len(chunk)
        if sent > config.max_response_bytes:
            raise Dropped
        await resp.write(chunk)
    await resp.write_eof()
    return resp


async def _read_whole(up: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    seen = 0
    async for chunk in up.content.iter_any():
        seen += len(chunk)
        if seen > max_bytes:
            raise Dropped
        chunks.append(chunk)
    return b"".join(chunks)


async def slowly(request: web.Request, body: bytes | None, hang_s: float) -> None:
    """A payment hung by a timeout fault: forwarded all the same (the upstream may take it),
    its answer thrown away once `hang_s` has passed and the upstream is done; then 504."""
    sent = asyncio.ensure_future(exchange(request, body, whole=True))
    await asyncio.sleep(hang_s)
    with contextlib.suppress(GatewayError, Dropped):
        await sent
    raise GatewayError("CHANNEL_TIMEOUT", detail="(injected)")

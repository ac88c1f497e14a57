"""Forwarding one request to the upstream and its answer back: keep-alive connections to the
upstream (fault_proxy/upstream.py), bodies streamed both ways unless a fault needs the whole
answer, sizes bounded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiMapping

from contract import limits
from contract.codes import GatewayError
from fault_proxy.config import ProxyConfig
from fault_proxy.keys import REQUEST_ID, config_key, upstream_key
from fault_proxy.lane import HOP_BY_HOP, WHOLE_BYTES
from fault_proxy.upstream import Reply, Streamed, Unreachable, Upstream, UpstreamBroken
from faults import Dropped


def upstream(config: ProxyConfig) -> Upstream:
    parts = urlsplit(config.upstream)
    return Upstream(parts.hostname or "", parts.port or 80)


def passed_on(headers: MultiMapping[str] | list[tuple[str, str]]) -> list[tuple[str, str]]:
    pairs = headers.items() if isinstance(headers, MultiMapping) else headers
    return [(name, value) for name, value in pairs if name.lower() not in HOP_BY_HOP]


async def _streamed(request: web.Request, max_bytes: int) -> AsyncIterator[bytes]:
    """The request body as it arrives; past `max_bytes` the upload stops with 413."""
    seen = 0
    async for chunk in request.content.iter_any():
        seen += len(chunk)
        if seen > max_bytes:
            raise limits.body_too_large(max_bytes)
        yield chunk


async def exchange(
    app: web.Application, request: web.Request, body: bytes | None, *, whole: bool
) -> web.StreamResponse:
    """Send the request upstream (its `body` if already read, else streamed) and return the
    answer: whole (a `web.Response`, for faults that reshape it) when `whole`, else streamed
    to the client as it comes unless it is small. The upstream unreachable: 502
    UPSTREAM_UNAVAILABLE; too slow: 504 CHANNEL_TIMEOUT; the upstream's answer broken or too
    large once under way: the client's connection is cut (`Dropped`), as it was."""
    config = app[config_key]
    sent: bytes | Streamed | None = body
    if body is None and request.body_exists:
        length = request.content_length
        if length is not None and length <= WHOLE_BYTES:
            sent = await request.read()  # small: head and body go out in one write
        else:
            sent = Streamed(_streamed(request, config.max_body_bytes), length)
    try:
        async with asyncio.timeout(config.upstream_timeout_s):
            reply = await app[upstream_key].send(
                request.method,
                request.raw_path,
                passed_on(request.headers),
                sent,
                whole_up_to=config.max_response_bytes if whole else WHOLE_BYTES,
            )
            if reply.length is not None and reply.length > config.max_response_bytes:
                raise Dropped  # nothing of it is read or sent
            if whole or reply.body is not None:
                body_back = await reply.read(config.max_response_bytes)
                return web.Response(
                    status=reply.status,
                    reason=reply.reason or None,
                    body=body_back,
                    headers=passed_on(reply.headers),
                )
    except Unreachable as exc:
        raise GatewayError("UPSTREAM_UNAVAILABLE", detail=f"({exc})") from None
    except TimeoutError:
        detail = f"(no answer from upstream in {config.upstream_timeout_s:g} s)"
        raise GatewayError("CHANNEL_TIMEOUT", detail=detail) from None
    except UpstreamBroken:
        raise Dropped from None
    return await _stream_back(request, reply, config)


async def _stream_back(
    request: web.Request, reply: Reply, config: ProxyConfig
) -> web.StreamResponse:
    """A large or open-ended answer, passed on as it arrives (bounded at max_response_bytes)."""
    resp = web.StreamResponse(
        status=reply.status, reason=reply.reason or None, headers=passed_on(reply.headers)
    )
    resp.headers.setdefault("X-Request-Id", request[REQUEST_ID])  # now: sent with prepare()
    if reply.length is not None:
        resp.content_length = reply.length
    await resp.prepare(request)
    sent = 0
    try:
        async for chunk in reply.chunks():
            sent += len(chunk)
            if sent > config.max_response_bytes:
                raise Dropped
            await resp.write(chunk)
    except UpstreamBroken:
        raise Dropped from None
    await resp.write_eof()
    return resp


async def slowly(
    app: web.Application, request: web.Request, body: bytes | None, hang_s: float
) -> None:
    """A payment hung by a timeout fault: forwarded all the same (the upstream may take it),
    its answer thrown away once `hang_s` has passed and the upstream is done; then 504."""
    sent = asyncio.ensure_future(exchange(app, request, body, whole=True))
    await asyncio.sleep(hang_s)
    with contextlib.suppress(GatewayError, Dropped):
        await sent
    raise GatewayError("CHANNEL_TIMEOUT", detail="(injected)")

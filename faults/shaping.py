"""Faults that break the HTTP response itself, after the request was handled."""

from __future__ import annotations

import asyncio

from aiohttp import web

from faults.ports import Reshape

SLOW_CHUNKS = 10


def drop_connection(request: web.Request) -> None:
    """Cut the connection without a response: the client sees a reset or an early EOF."""
    if request.transport is not None:
        request.transport.abort()


async def reshaped(
    request: web.Request, resp: web.StreamResponse, reshape: Reshape
) -> web.StreamResponse:
    """The answer as a fault reshaped it: lost whatever it was; a whole response (not a
    stream already under way) cut, emptied, truncated or trickled out."""
    if reshape.mode == "lost":
        drop_connection(request)
        return resp
    if not isinstance(resp, web.Response):
        return resp
    body = resp.body if isinstance(resp.body, bytes) else b""
    if reshape.mode == "reset":
        drop_connection(request)
        return resp
    if reshape.mode == "empty":
        return web.Response(status=200, body=b"", headers=_kept(resp))
    if reshape.mode == "malformed":
        return web.Response(
            status=resp.status, body=body[: len(body) // 2] + b"\x00<html>", headers=_kept(resp)
        )
    stream = web.StreamResponse(status=resp.status, headers=_kept(resp))
    stream.content_length = len(body)
    await stream.prepare(request)
    step = max(1, -(-len(body) // SLOW_CHUNKS))
    for start in range(0, len(body), step):
        # Wait first: the last byte arrives slow_ms after the headers, not one pause sooner.
        await asyncio.sleep(reshape.slow_ms / 1000 / SLOW_CHUNKS)
        await stream.write(body[start : start + step])
    await stream.write_eof()
    return stream


def _kept(resp: web.Response) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.lower() not in ("content-length",)}

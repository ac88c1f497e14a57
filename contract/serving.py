"""What every paystorm HTTP server (the mock gateway, the fault proxy) does alike: an error from
the catalogue as its JSON response, the admin token check of /_admin and /_chaos, the URL it
announces and the event loop it runs on."""

from __future__ import annotations

import asyncio
import gc
import hmac
import signal
import sys
from logging import Logger
from random import getrandbits

import orjson
from aiohttp import web

from contract import lifeline, limits
from contract.argparsing import fail
from contract.codes import GatewayError, error_body, invalid
from contract.target import is_loopback


def new_request_id() -> str:
    """A request's id: not a secret, only unique enough to find one (no getrandom() call per
    request)."""
    return f"{getrandbits(64):016x}"


def error_response(err: GatewayError, request_id: str) -> web.Response:
    resp = web.Response(
        body=orjson.dumps(error_body(err, request_id)),
        status=err.spec.http_status,
        content_type="application/json",
    )
    if err.retry_after_s is not None:
        resp.headers["Retry-After"] = str(err.retry_after_s)
    return resp


def authorized(request: web.Request, token: str) -> bool:
    """Whether the request carries `Authorization: Bearer <token>`; an empty token refuses
    everyone."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    # Always compare, even without a token configured, so timing says nothing.
    expected = token.encode() if token else b"\x00"
    # Header bytes that are not UTF-8 arrive as surrogate escapes: compare them as the bytes sent.
    sent = credentials.strip().encode("utf-8", "surrogateescape")
    # The scheme is case-insensitive (RFC 9110 section 11.1).
    return hmac.compare_digest(sent, expected) and scheme.lower() == "bearer" and bool(token)


GC_YOUNG_THRESHOLD = 10_000  # allocations between young collections (Python's default: 700)


def collect_less() -> None:
    """What the server loaded so far lives as long as the process: the cyclic collector need
    not walk it on every full collection (gc.freeze), and collecting young objects less often
    halves its share of the gateway's CPU (py-spy: 7 % → 3 %)."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)


def url(host: str, port: int) -> str:
    """The URL a server bound to `host`:`port` announces."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def loop_runner() -> asyncio.Runner:
    """uvloop's event loop where it is installed, asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:  # uvloop is optional where it cannot be installed (Windows)
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def unexpected(
    exc: Exception, request: web.Request, request_id: str, max_body_bytes: int, log: Logger
) -> web.Response:
    """The answer to an exception no handler turned into a catalogue error: aiohttp's own
    refusals as the catalogue's (with `Allow` on a 405), anything else logged and 500."""
    if isinstance(exc, web.HTTPException):
        resp = error_response(from_http_exception(exc, request, max_body_bytes), request_id)
        if exc.status == 405 and "Allow" in exc.headers:
            resp.headers["Allow"] = exc.headers["Allow"]
        return resp
    log.error("unexpected error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(GatewayError("INTERNAL_ERROR"), request_id)


def from_http_exception(
    exc: web.HTTPException, request: web.Request, max_body_bytes: int
) -> GatewayError:
    """aiohttp's own refusal (no route, a method not allowed, a body too large) as the
    catalogue's error."""
    if exc.status == 404:
        return GatewayError("NOT_FOUND", detail=f"No route {request.path}.")
    if exc.status == 405:
        return GatewayError("METHOD_NOT_ALLOWED", detail=f"{request.method} {request.path}.")
    if exc.status == 413:
        return limits.body_too_large(max_body_bytes)
    return invalid("request", exc.reason)


async def serve_until_stopped(
    runner: web.AppRunner,
    host: str,
    port: int,
    *,
    prog: str,
    announce: str,
    exposed: str,
    stopping: str,
) -> int:
    """Listen on `host`:`port` and print `announce` with the URL ("{url}" in it) once the
    signals are handled; serve until SIGINT, SIGTERM or the starter's death (the lifeline),
    then drain and clean up. `exposed` finishes the warning printed when `host` is not
    loopback; `stopping` is printed as it drains. The exit status: 0, or 2 with one line when
    it cannot listen."""
    site = web.TCPSite(runner, host, port, backlog=1024)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        return fail(prog, f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Installed before the address is announced: a supervisor may signal as soon as it
        # reads it. Stays installed: a second signal while draining must not kill the flush.
        loop.add_signal_handler(sig, stop.set)
    lifeline.stop_when_orphaned(loop, stop, prog)
    bound = runner.addresses[0]
    print(announce.format(url=url(host, bound[1])), flush=True)
    if not is_loopback(host):
        print(
            f"WARNING: bound to {host}, not loopback: anyone who can reach this machine {exposed}",
            file=sys.stderr,
            flush=True,
        )
    await stop.wait()
    print(f"{prog} stopping: {stopping}", flush=True)
    await runner.cleanup()
    print(f"{prog} stopped", flush=True)
    return 0

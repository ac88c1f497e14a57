"""`paystorm proxy --upstream URL`: the fault proxy, serving until SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import replace
from urllib.parse import urlsplit

from contract import limits, serving
from contract.admin import TOKEN_ENV
from contract.argparsing import EXIT_USAGE, ArgumentParser, fail
from contract.target import TargetError, check_target
from fault_proxy.app import ProxyRunner, create_app
from fault_proxy.config import DEFAULT_KEY_HEADER, ProxyConfig
from fault_proxy.kinds import supported

PROG = "paystorm proxy"
LISTENING = "paystorm proxy listening on"


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="A reverse proxy in front of any HTTP service that applies paystorm's "
        f"request-level faults ({', '.join(supported())}) through the same chaos API as "
        "the gateway.",
    )
    p.add_argument(
        "--upstream", required=True, help="the service's base URL, http://HOST:PORT (loopback)"
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="forward to an upstream that is not on this machine",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; anything else is exposed)",
    )
    p.add_argument("--port", type=int, default=8090, help="TCP port; 0 picks a free one")
    p.add_argument(
        "--admin-token",
        default=None,
        help=f"bearer token for the proxy's /_chaos (or ${TOKEN_ENV}); "
        "random and printed once when neither is given",
    )
    p.add_argument(
        "--key-header",
        default=DEFAULT_KEY_HEADER,
        help="the request header faults' seeded draws are keyed on (default Idempotency-Key; "
        "without it: the method, the path and a hash of the body)",
    )
    p.add_argument(
        "--upstream-timeout-s",
        type=float,
        default=30.0,
        help="how long an answer may take before 504 CHANNEL_TIMEOUT (default 30)",
    )
    return p


def _reachable(upstream: str) -> str | None:
    """Why the upstream cannot be connected to (None: it can)."""
    parts = urlsplit(upstream)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=3):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


async def serve(config: ProxyConfig, host: str, port: int) -> int:
    app = create_app(config)
    runner = ProxyRunner(
        app, access_log=None, shutdown_timeout=10.0, **limits.runner_kwargs("fault_proxy.http")
    )
    await runner.setup()
    serving.collect_less()  # a request allocates many short-lived objects, none cyclic
    return await serving.serve_until_stopped(
        runner,
        host,
        port,
        prog=PROG,
        announce=f"{LISTENING} {{url}} -> {config.upstream}",
        exposed="can send requests through this proxy",
        stopping="letting held requests go and closing its connections",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        upstream = check_target(args.upstream, allow_remote=args.allow_remote, option="--upstream")
    except TargetError as exc:
        return fail(PROG, str(exc))
    if not 0 <= args.port <= 65535:
        return fail(PROG, f"--port {args.port}: expected 0..65535")
    try:
        socket.getaddrinfo(args.host, None)
    except OSError as exc:
        return fail(PROG, f"--host {args.host}: cannot resolve it ({exc.strerror or exc})")
    why = _reachable(upstream)
    if why is not None:
        return fail(PROG, f"--upstream {upstream}: cannot connect ({why}); start it first")
    token = args.admin_token or os.environ.get(TOKEN_ENV) or ""
    try:
        config = ProxyConfig(
            upstream=upstream,
            admin_token=token,
            key_header=args.key_header,
            upstream_timeout_s=args.upstream_timeout_s,
        )
    except ValueError as exc:
        return fail(PROG, str(exc))
    if not token:
        token = secrets.token_urlsafe(24)
        config = replace(config, admin_token=token)
        print(f"admin token (for /_chaos, shown once): {token}", flush=True)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    with serving.loop_runner() as runner:
        code = runner.run(serve(config, args.host, args.port))
    return code if code is not None else EXIT_USAGE

"""`python -m mock_gateway` / `paystorm gateway`: serve until SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import sqlite3
from dataclasses import replace
from pathlib import Path

import yaml
from aiohttp import web

from contract import limits, serving
from contract.admin import TOKEN_ENV
from contract.argparsing import EXIT_USAGE, ArgumentParser, fail
from contract.profile import PROFILES, Profile, ProfileError, apply_overrides
from mock_gateway.app import create_app
from mock_gateway.config import MEMORY_DB, GatewayConfig

PROG = "paystorm gateway"


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog=PROG, description="The mock credit-pay gateway.")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; anything else is exposed)",
    )
    p.add_argument("--port", type=int, default=8080, help="TCP port; 0 picks a free one")
    p.add_argument(
        "--db",
        default=MEMORY_DB,
        help="SQLite ledger file (created and seeded when new); :memory: is a throwaway file",
    )
    p.add_argument("--seed", type=int, default=1, help="seed for the Faker population")
    p.add_argument("--accounts", type=int, default=10_000, help="users seeded: u000001 …")
    p.add_argument("--merchants", type=int, default=500, help="merchants seeded: m00001 …")
    p.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="default",
        help="default: realistic channels and capacity (a knee near 400 payments/s); "
        "bench: no artificial service time or capacity limit",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML file of overrides (capacity, channels, failover, breaker, risk, "
        "timeouts, settle) on top of the profile",
    )
    p.add_argument(
        "--admin-token",
        default=None,
        help=f"bearer token for /_admin and /_chaos (or ${TOKEN_ENV}); "
        "random and printed once when neither is given",
    )
    return p


def load_profile(name: str, config: Path | None) -> Profile:
    """The named profile with a config file's overrides; ProfileError names file and field."""
    base = PROFILES[name]
    if config is None:
        return base
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"--config {config}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"--config {config}: expected valid YAML ({exc})") from None
    try:
        return apply_overrides(data, base)
    except ProfileError as exc:
        raise ProfileError(f"{config}: {exc}") from None


async def serve(config: GatewayConfig, host: str, port: int) -> int:
    app = create_app(config)
    runner = web.AppRunner(
        app, access_log=None, shutdown_timeout=10.0, **limits.runner_kwargs("mock_gateway.http")
    )
    try:
        await runner.setup()  # opens (and seeds, when new) the ledger file
    except sqlite3.Error as exc:
        return fail(
            PROG,
            f"--db {config.db}: cannot use it as the ledger ({exc}); expected a "
            "SQLite file made by this gateway, or a path for a new one",
        )
    # What start-up loaded (the accounts, a million of them in the growth benchmark) lives as
    # long as the process.
    serving.collect_less()
    return await serving.serve_until_stopped(
        runner,
        host,
        port,
        prog=PROG,
        announce="paystorm gateway listening on {url}",
        exposed="can send payments to this gateway",
        stopping="draining requests and flushing the ledger",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    token = args.admin_token or os.environ.get(TOKEN_ENV) or ""
    if args.db != MEMORY_DB and not Path(args.db).parent.is_dir():
        return fail(PROG, f"--db {args.db}: folder {Path(args.db).parent} does not exist")
    if not 0 <= args.port <= 65535:
        return fail(PROG, f"--port {args.port}: expected 0..65535")
    try:
        profile = load_profile(args.profile, args.config)
    except ProfileError as exc:
        return fail(PROG, str(exc))
    try:
        socket.getaddrinfo(args.host, None)
    except OSError as exc:
        return fail(PROG, f"--host {args.host}: cannot resolve it ({exc.strerror or exc})")
    try:
        config = GatewayConfig(
            db=args.db,
            seed=args.seed,
            accounts=args.accounts,
            merchants=args.merchants,
            admin_token=token,
            profile=profile,
        )
    except ValueError as exc:
        return fail(PROG, f"{exc}")
    if not token:
        token = secrets.token_urlsafe(24)
        config = replace(config, admin_token=token)
        print(f"admin token (for /_admin and /_chaos, shown once): {token}", flush=True)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    runner = serving.loop_runner()
    with runner:
        code = runner.run(serve(config, args.host, args.port))
    return code if code is not None else EXIT_USAGE

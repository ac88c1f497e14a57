"""`paystorm chaos add|list|clear|events`: the chaos API of a running gateway, from a shell.

The token comes from $PAYSTORM_ADMIN_TOKEN (or --token); the gateway must be on loopback
unless --allow-remote is given."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import yaml

from contract import routes
from contract.admin import TOKEN_ENV, AdminClient, AdminError
from contract.argparsing import EXIT_USAGE, ArgumentParser, fail
from contract.target import TargetError, check_target
from paystorm.processes import SetupError

PROG = "paystorm chaos"


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Add, list and clear faults on a running gateway.")
    p.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway's base URL")
    p.add_argument("--token", default=None, help=f"admin token (default: ${TOKEN_ENV})")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback gateway")
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    add = sub.add_parser("add", help="add one fault")
    add.add_argument("kind", nargs="?", help="fault kind, e.g. latency, channel_outage")
    add.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a param of the kind (repeatable), e.g. -p ms=200",
    )
    add.add_argument(
        "--target",
        "-t",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="narrow it: route, channel, merchant_id, user_id, probability, min_inflight",
    )
    add.add_argument("--start-in", type=float, default=None, help="seconds from now")
    add.add_argument("--duration", type=float, default=None, help="seconds it lasts")
    add.add_argument("--seed", type=int, default=None, help="seed of its chance draws")
    add.add_argument("--json", default=None, help="the whole fault as JSON instead")
    sub.add_parser("list", help="every fault and its state")
    clear = sub.add_parser("clear", help="remove one fault, or all")
    clear.add_argument("fault_id", nargs="?", help="the fault's id (default: all)")
    sub.add_parser("events", help="the fault windows applied so far")
    return p


def _pairs(items: list[str], what: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SetupError(f"--{what} {item!r}: expected NAME=VALUE")
        result[name] = yaml.safe_load(value) if value else ""
    return result


def fault_from_args(args: Any) -> dict[str, Any]:
    if args.json is not None:
        try:
            given = json.loads(args.json)
        except json.JSONDecodeError as exc:
            raise SetupError(f"--json: expected a JSON object ({exc.msg})") from None
        if not isinstance(given, dict):
            raise SetupError("--json: expected a JSON object")
        return given
    if not args.kind:
        raise SetupError("add: expected a fault kind or --json")
    spec: dict[str, Any] = {"kind": args.kind, "params": _pairs(args.param, "param")}
    if args.target:
        spec["target"] = _pairs(args.target, "target")
    for key, value in (
        ("start_in_s", args.start_in),
        ("duration_s", args.duration),
        ("seed", args.seed),
    ):
        if value is not None:
            spec[key] = value
    return spec


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    token = args.token or os.environ.get(TOKEN_ENV, "")
    try:
        base = check_target(args.url, allow_remote=args.allow_remote)
        if not token:
            raise SetupError(f"no admin token: set ${TOKEN_ENV} or pass --token")
        admin = AdminClient(base, token)
        if args.command == "add":
            result = admin.call(routes.ADD_FAULT, body=fault_from_args(args))
        elif args.command == "list":
            result = admin.call(routes.FAULTS)
        elif args.command == "clear":
            result = admin.clear_faults(args.fault_id)
        else:
            result = admin.call(routes.EVENTS)
    except (AdminError, SetupError, TargetError) as exc:
        return fail(PROG, str(exc).replace("--target", "--url"))
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0 if result is not None else EXIT_USAGE

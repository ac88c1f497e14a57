"""`paystorm worker`: one more Locust worker (or several) for a `paystorm run … --workers N`
master, here or on another machine. The master sends the scenario and the target; a worker
needs only where the master is."""

from __future__ import annotations

import os

from contract.argparsing import ArgumentParser, fail
from contract.target import is_loopback
from paystorm.processes import locust_command

PROG = "paystorm worker"


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Join a paystorm run's Locust master as a worker (Locust's --worker).",
    )
    p.add_argument("--master-host", default="127.0.0.1", help="the master (default 127.0.0.1)")
    p.add_argument("--master-port", type=int, required=True, help="the port the run printed")
    p.add_argument(
        "--processes", type=int, default=1, metavar="N", help="worker processes to start here"
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a master that is not on this machine's loopback",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="Locust's own log at INFO")
    return p


def worker_argv(host: str, port: int, processes: int, verbose: bool) -> list[str]:
    argv = locust_command("--worker")
    argv += ["--master-host", host, "--master-port", str(port)]
    if processes > 1:
        argv += ["--processes", str(processes)]
    if not verbose:
        argv += ["--loglevel", "WARNING"]
    return argv


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 1 <= args.master_port <= 65535:
        return fail(PROG, f"--master-port {args.master_port}: expected 1 to 65535")
    if not 1 <= args.processes <= 64:
        return fail(PROG, f"--processes {args.processes}: expected 1 to 64")
    if not args.allow_remote and not is_loopback(args.master_host):
        return fail(
            PROG,
            f"--master-host {args.master_host}: not a loopback address; a worker sends load "
            "for a master on another machine only with --allow-remote",
        )
    command = worker_argv(args.master_host, args.master_port, args.processes, args.verbose)
    os.execv(command[0], command)  # the worker is Locust itself: its signals, its exit code
    return 0  # not reached

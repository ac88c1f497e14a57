"""`paystorm run <scenario>`: exit 0 when every SLO holds, 1 when one fails, 2 on a usage or
setup error (one line, no traceback)."""

from __future__ import annotations

import os
from pathlib import Path

from contract.admin import TOKEN_ENV
from contract.argparsing import (
    EXIT_SELF_CHECK,
    EXIT_SLO_FAILED,
    EXIT_USAGE,
    ArgumentParser,
    fail,
)
from contract.target import TargetError, add_target_arguments
from paystorm.processes import SetupError
from paystorm.runner import RunOptions, execute
from reports.build import build_report
from reports.model import RunError
from scenarios.loader import ScenarioError, catalogue

PROG = "paystorm run"
MAX_PROCESSES = 64


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Run one scenario end to end: gateway, Locust, results folder, report.",
    )
    p.add_argument("scenario", help=f"a catalogue name ({', '.join(catalogue())}) or a YAML file")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("results"),
        help="folder for run folders (default: results/)",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=None,
        help="compress the scenario's time by this factor (rates stay the same)",
    )
    add_target_arguments(p, "allow a --target that is not on this machine's loopback")
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="Locust processes generating the load: N workers and a master (default 1)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="run as Locust's master and wait for N workers started with `paystorm worker` "
        "(on this machine, or on others with --master-bind and --allow-remote)",
    )
    p.add_argument(
        "--master-bind",
        default="127.0.0.1",
        metavar="HOST",
        help="where the master listens for workers (default 127.0.0.1)",
    )
    p.add_argument(
        "--master-port",
        type=int,
        default=0,
        metavar="PORT",
        help="the master's port for workers (default: a free one, printed)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show Locust's own output instead of the progress line",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 1 <= args.processes <= MAX_PROCESSES:
        return fail(PROG, f"--processes {args.processes}: expected 1 to {MAX_PROCESSES}")
    if not 0 <= args.workers <= MAX_PROCESSES:
        return fail(PROG, f"--workers {args.workers}: expected 0 to {MAX_PROCESSES}")
    if not 0 <= args.master_port <= 65535:
        return fail(PROG, f"--master-port {args.master_port}: expected 0 to 65535")
    options = RunOptions(
        scenario=args.scenario,
        out=args.out,
        speed=args.speed,
        target=args.target,
        allow_remote=args.allow_remote,
        verbose=args.verbose,
        processes=args.processes,
        workers=args.workers,
        master_bind=args.master_bind,
        master_port=args.master_port,
        admin_token=os.environ.get(TOKEN_ENV) if args.target else None,
    )
    try:
        outcome = execute(options)
    except (ScenarioError, SetupError, TargetError) as exc:
        return fail(PROG, str(exc))
    try:
        report = build_report(outcome.run_dir)
    except RunError as exc:
        print(f"{PROG}: the run left no readable results: {exc}")
        return EXIT_USAGE
    except OSError as exc:  # a full disk, a folder removed under us
        print(f"{PROG}: could not write the report into {outcome.run_dir}: {exc.strerror}")
        return EXIT_USAGE
    summary = report.summary
    rate = summary.get("success_rate")
    dropped = summary.get("dropped") or 0
    print(
        f"{outcome.run_dir.name}: {summary.get('payments', 0)} payments, "
        f"{dropped:,} arrivals dropped, success rate "
        f"{'n/a' if rate is None else f'{rate:.2%}'}, stop: {outcome.stop_reason}"
    )
    if summary.get("generator"):
        print(summary["generator"])
    for violation in report.violations:
        print(f"self-check failed: {violation.line()}")
    failed = [o["name"] for o in summary.get("slo", []) if not o.get("passed")]
    print("SLO met" if report.slo_passed else f"SLO failed: {', '.join(failed)}")
    guarded = outcome.stop_reason == "guard"
    if guarded:
        # The scenario's own safety stop: whatever its objectives say, the run failed.
        print(f"stopped by the guard: {summary.get('stop_detail') or 'success collapsed'}")
    print(f"report: {report.html_path}")
    if outcome.exit_code:
        return outcome.exit_code
    if report.violations:
        return EXIT_SELF_CHECK
    return 0 if report.slo_passed and not guarded else EXIT_SLO_FAILED

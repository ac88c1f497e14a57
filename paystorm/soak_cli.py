"""`paystorm soak --chaos`: a seeded chaos soak. Generates a scenario (open-model load at one
rate, shoppers who do not resolve uncertain payments beside POS terminals that do, and a
random fault timeline with every fault kind: `scenarios.chaos_timeline`), runs it as
`paystorm run` does, then judges the money and the gateway's resources
(`paystorm.soak_verdict`). Exit 0 when every line of the verdict holds, 1 when one fails, 2
on a usage or setup error (one line), 130 when interrupted. The seed is printed: the same
seed, duration and rate replay the same timeline."""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from contract.argparsing import EXIT_SLO_FAILED, EXIT_USAGE, ArgumentParser, fail
from paystorm.processes import SetupError
from paystorm.runner import EXIT_INTERRUPTED, RunOptions, execute
from paystorm.soak_verdict import Check, judge
from reports.build import build_report
from reports.model import RunError
from scenarios.chaos_timeline import MIN_DURATION_S, chaos_scenario
from scenarios.loader import ScenarioError, parse_scenario
from scenarios.model import MAX_SECONDS

PROG = "paystorm soak"
DEFAULT_DURATION_S = 600.0
DEFAULT_RATE = 200.0
"""Payments/s: half the default profile's capacity (contract.profile: about 400/s, 240 on
bank_a and 160 on bank_b), what this 2-core machine sustains with the gateway, Locust and
the faults side by side. Measured over ten minutes of chaos: at 200/s no arrival dropped and
the generator began payments nearly on time (lateness p99 10 ms in one run, 188 ms in another
on a busier host, at most 0.6 s); at 320/s (80 % of capacity) none dropped either (the pool
is sized for the worst case), but both cores were saturated and payments began late, p99
0.24 s and up to 1 s, bunching the arrivals."""
MAX_RATE = 1_000_000.0
VERDICT_FILE = "soak.json"


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="A long run at a steady rate, judged on the money and the gateway's "
        "resources; with --chaos, under a random, seeded timeline of every fault kind.",
    )
    p.add_argument(
        "--chaos",
        action="store_true",
        help="inject a fault timeline drawn from the seed (every kind at least once, "
        "overlapping); without it, the same load with no fault: a baseline",
    )
    p.add_argument(
        "--duration-s",
        type=float,
        default=DEFAULT_DURATION_S,
        metavar="S",
        help=f"seconds of load (default {DEFAULT_DURATION_S:g})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the fault timeline (default: a random one, printed so that it can be "
        "replayed)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        metavar="PER_S",
        help=f"payments started per second (default {DEFAULT_RATE:g})",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("results"),
        help="folder for run folders (default: results/)",
    )
    p.add_argument(
        "--plan",
        action="store_true",
        help="print the generated scenario (with its fault timeline) and exit without running",
    )
    return p


def _usage(args: Any) -> str | None:
    """The first problem with the arguments, as one line; None: they are fine."""
    least = MIN_DURATION_S if args.chaos else 1.0
    if not least <= args.duration_s <= MAX_SECONDS:
        return (
            f"--duration-s {args.duration_s:g}: expected {least:g} to {MAX_SECONDS:g} seconds"
            + (" (room for a window of every fault kind)" if args.chaos else "")
        )
    if not 0 < args.rate <= MAX_RATE:
        return f"--rate {args.rate:g}: expected a rate above 0, up to {MAX_RATE:,.0f} per second"
    if args.seed is not None and not 0 <= args.seed < 2**63:
        return f"--seed {args.seed}: expected a whole number from 0 to 2**63 - 1"
    return None


def _replay(args: Any, seed: int) -> str:
    chaos = " --chaos" if args.chaos else ""
    return (
        f"paystorm soak{chaos} --seed {seed} --duration-s {args.duration_s:g} --rate {args.rate:g}"
    )


def _most_at_once(faults: list[dict[str, Any]]) -> int:
    edges = sorted(
        [(f["start_in_s"], 1) for f in faults]
        + [(f["start_in_s"] + f["duration_s"], -1) for f in faults]
    )
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = _usage(args)
    if problem is not None:
        return fail(PROG, problem)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**32)
    data = chaos_scenario(seed, args.duration_s, args.rate, chaos=args.chaos)
    faults: list[dict[str, Any]] = data["faults"]
    if args.plan:
        print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")
        return 0
    print(f"{PROG}: seed {seed} (replay: {_replay(args, seed)})", flush=True)
    if faults:
        kinds = len({f["kind"] for f in faults})
        print(
            f"{PROG}: {len(faults)} faults of {kinds} kinds over {args.duration_s:g} s at "
            f"{args.rate:g} payments/s, up to {_most_at_once(faults)} at once",
            flush=True,
        )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="paystorm-soak-") as tmp:
        path = Path(tmp) / f"{data['name']}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        try:
            parse_scenario(data, str(path))  # the generator's mistake, said before any run
            outcome = execute(RunOptions(scenario=str(path), out=args.out))
        except (ScenarioError, SetupError) as exc:
            return fail(PROG, str(exc))
    try:
        report = build_report(outcome.run_dir)
    except RunError as exc:
        print(f"{PROG}: the run left no readable results: {exc}")
        return EXIT_USAGE
    except OSError as exc:
        print(f"{PROG}: could not write the report into {outcome.run_dir}: {exc.strerror}")
        return EXIT_USAGE
    wall_s = time.monotonic() - started
    summary = report.summary
    verdict = judge(
        outcome.run_dir,
        args.duration_s,
        data["client"],
        [v.line() for v in report.violations],
    )
    checks = list(verdict.checks)
    completed = outcome.stop_reason == "completed"
    checks.insert(
        0,
        Check(
            "the run lasted its duration",
            completed,
            f"stop: {outcome.stop_reason}"
            + ("" if completed else f" ({summary.get('stop_detail')})"),
        ),
    )
    offered, dropped = summary.get("offered") or 0, summary.get("dropped") or 0
    rate = summary.get("success_rate")
    print(
        f"{outcome.run_dir.name}: {offered:,} arrivals, {dropped:,} dropped, "
        f"{summary.get('payments', 0):,} payments, success rate "
        f"{'n/a' if rate is None else f'{rate:.2%}'}, "
        f"{summary.get('ghost_charges', 0) or 0:,} ghost charges"
    )
    if summary.get("generator"):
        print(summary["generator"])
    for check in checks:
        print(check.line())
    failed = [c.name for c in checks if not c.ok]
    record = {
        "seed": seed,
        "chaos": args.chaos,
        "duration_s": args.duration_s,
        "rate": args.rate,
        "replay": _replay(args, seed),
        "faults": len(faults),
        "kinds": sorted({f["kind"] for f in faults}),
        "most_faults_at_once": _most_at_once(faults) if faults else 0,
        "offered": offered,
        "dropped": dropped,
        "payments": summary.get("payments"),
        "success_rate": rate,
        "lateness_ms": summary.get("lateness_ms"),
        "wall_s": round(wall_s, 1),
        **verdict.as_json(),
        "ok": not failed,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
    }
    (outcome.run_dir / VERDICT_FILE).write_text(json.dumps(record, indent=2) + "\n")
    print(f"report: {report.html_path}")
    if outcome.exit_code == EXIT_INTERRUPTED:
        print(f"{PROG}: interrupted; the verdict covers what was measured", file=sys.stderr)
        return EXIT_INTERRUPTED
    print("soak held" if not failed else f"soak failed: {'; '.join(failed)}")
    return 0 if not failed else EXIT_SLO_FAILED

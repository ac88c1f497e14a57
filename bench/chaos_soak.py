"""A chaos soak: `python -m bench.chaos_soak [--minutes 10] [--seed N] [--rate R]`.

Runs `paystorm soak --chaos` (a random, seeded timeline of every fault kind, overlapping,
under open-model load; shoppers who do not resolve uncertain payments, POS terminals that
do) and writes its block of bench/results.md: each line of the soak's verdict, the load
offered and served, and per minute the load, the outcomes, the faults active and the
gateway's memory and descriptors, then the timeline itself. `make bench` runs it for ten
minutes with the seed below (two with `--quick`); the figures in results.md are only ever
from a run of it.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from bench.common import between, finished_run, python, seconds, total
from bench.report import RESULTS, Row, Section, table, write
from contract.gauges import INJECTED
from contract.runfolder import RunFolder
from paystorm.soak_cli import DEFAULT_RATE, VERDICT_FILE
from paystorm.soak_verdict import resolving_types
from paystorm.soak_verdict import windows as compared_windows
from scenarios.loader import fault_dict, load_scenario
from scenarios.model import Scenario

SEED = 20261201
MINUTES = 10.0
QUICK_MINUTES = 2.0
MIB = 2**20


def _soak(out: Path, minutes: float, seed: int, rate: float) -> tuple[RunFolder, int]:
    argv = [python(), "-m", "paystorm", "soak", "--chaos", "--seed", str(seed)]
    argv += ["--duration-s", f"{minutes * 60:g}", "--rate", f"{rate:g}", "--out", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=minutes * 60 + 900)
    print(done.stdout[-3000:], end="", flush=True)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"paystorm soak exited {done.returncode}:\n{done.stderr[-2000:]}")
    return finished_run(out, "chaos soak", done.stdout + done.stderr, needs=VERDICT_FILE), (
        done.returncode
    )


def _metrics(folder: RunFolder) -> list[dict[str, float]]:
    with folder.gateway_metrics.open(newline="", encoding="utf-8") as fh:
        return [{k: float(v or 0) for k, v in row.items()} for row in csv.DictReader(fh)]


def _per_minute(folder: RunFolder, duration_s: float, windows: list[dict[str, Any]]) -> str:
    rows = seconds(folder)
    metrics = _metrics(folder)
    out = []
    for lo in range(0, int(duration_s), 60):
        hi = lo + 60
        part = between(rows, lo, hi)
        offered = total(part, "offered")
        succeeded = total(part, "had_credit") - total(part, "had_credit_failed")
        had_credit = total(part, "had_credit") + total(part, "dropped")
        p99s = [r.p99_ms for r in part if r.p99_ms is not None]
        sampled = [m for m in metrics if lo <= m["time"] < hi]
        rss = statistics.median(m["rss_bytes"] for m in sampled) / MIB if sampled else 0.0
        fds = statistics.median(m.get("open_fds", 0.0) for m in sampled) if sampled else 0.0
        active = sorted(
            {
                w["kind"]
                for w in windows
                if w["started_at_s"] < hi and (w["ended_at_s"] or duration_s) > lo
            }
        )
        out.append(
            [
                f"{lo // 60}-{hi // 60}",
                f"{offered / 60:.0f}",
                f"{total(part, 'dropped'):,}",
                f"{succeeded / had_credit:.1%}" if had_credit else "—",
                f"{total(part, 'unknown'):,}",
                f"{max(p99s):,.0f} ms" if p99s else "—",
                f"{rss:.1f} MiB",
                f"{fds:,.0f}",
                ", ".join(active) or "none",
            ]
        )
    return table(
        [
            "minute",
            "offered/s",
            "dropped",
            "success",
            "unknown",
            "worst p99",
            "gateway RSS",
            "open fds",
            "faults active",
        ],
        out,
    )


def _mix(scenario: Scenario) -> str:
    """Who arrived, and which of them resolve an uncertain payment."""
    weights = {k: w for k, w in scenario.mix.weights().items() if w > 0}
    resolving = resolving_types(msgspec.to_builtins(scenario.client))
    total_ = sum(weights.values())
    return ", ".join(
        f"{kind} {w / total_:.0%} ({'' if kind in resolving else 'not '}resolving)"
        for kind, w in weights.items()
    )


def _by_kind(folder: RunFolder) -> str:
    """Per kind: its faults in the timeline, and the requests they shaped by the gateway's own
    count (its last sample of paystorm_faults_injected)."""
    scenario = load_scenario(str(folder.scenario))
    faults = Counter(f.kind for f in scenario.faults)
    metrics = _metrics(folder)
    last = metrics[-1] if metrics else {}
    shaped = {k[len(INJECTED) :]: v for k, v in last.items() if k.startswith(INJECTED)}
    rows = [
        [kind, f"{n:,}", f"{shaped[kind]:,.0f}" if kind in shaped else "none counted"]
        for kind, n in sorted(faults.items())
    ]
    return table(["kind", "faults", "requests shaped"], rows)


def _timeline(folder: RunFolder) -> str:
    scenario = load_scenario(str(folder.scenario))
    rows = []
    for fault in scenario.faults:
        wire = fault_dict(fault)
        params = ", ".join(f"{k}: {v}" for k, v in wire["params"].items()) or "—"
        target = ", ".join(f"{k}: {v}" for k, v in wire["target"].items()) or "every request"
        rows.append(
            [
                wire["kind"],
                f"{fault.start_in_s:g}",
                f"{fault.duration_s or 0:g}",
                target,
                params,
            ]
        )
    return table(["kind", "start s", "lasts s", "target", "params"], rows)


def section(minutes: float, seed: int, rate: float, work: Path) -> Section:
    started = time.monotonic()
    folder, code = _soak(work, minutes, seed, rate)
    verdict: dict[str, Any] = json.loads(folder.path.joinpath(VERDICT_FILE).read_text())
    summary: dict[str, Any] = json.loads(folder.summary.read_text())
    windows: list[dict[str, Any]] = json.loads(folder.faults.read_text())
    lateness = summary.get("lateness_ms") or {}
    first, last = compared_windows(minutes * 60)
    scenario = load_scenario(str(folder.scenario))
    shedding = bool(scenario.gateway.get("capacity", {}).get("shedding"))
    sec = Section(
        name="chaos_soak",
        title=f"Chaos soak: {minutes:g} minutes at {rate:g} payments/s, every fault kind",
        conditions=(
            f"`python -m bench.chaos_soak --minutes {minutes:g} --seed {seed} --rate {rate:g}`, "
            f"that is `{verdict['replay']}`: the default profile (about 400 payments/s) "
            f"with shedding {'on' if shedding else 'off'}, "
            f"{_mix(scenario)}; {verdict['faults']} faults of {len(verdict['kinds'])} kinds, up to "
            f"{verdict['most_faults_at_once']} at once, from the seed. Memory and descriptors: "
            f"medians of seconds {first[0]:g}-{first[1]:g} against {last[0]:g}-{last[1]:g}."
        ),
        quick=minutes < MINUTES,
        wall_s=time.monotonic() - started,
    )
    sec.rows.append(
        Row(
            figure="load offered, and served",
            measured=f"{verdict['offered']:,} arrivals, {verdict['dropped']:,} dropped; lateness "
            f"p99 {lateness.get('p99', 0):,.0f} ms, max {lateness.get('max', 0):,.0f} ms",
            baseline=f"{rate:g}/s for {minutes * 60:g} s",
            ratio=None,
            target="none dropped",
            passed=verdict["dropped"] == 0,
        )
    )
    for check in verdict["checks"]:
        sec.rows.append(
            Row(
                figure=check["name"],
                measured=check["detail"],
                baseline="",
                ratio=None,
                target="holds",
                passed=bool(check["ok"]),
            )
        )
    rate_ = summary.get("success_rate")
    sec.details.append(
        f"Exit status {code}; success rate of the people with credit "
        f"{'n/a' if rate_ is None else f'{rate_:.1%}'} over {summary.get('payments', 0):,} "
        f"payments; ghost charges: {verdict['ghost_charges']['resolving']:,} of resolving "
        f"clients, {verdict['ghost_charges']['others']:,} of the others "
        f"({verdict['ghost_charges']['unexplained']:,} unexplained); wall time "
        f"{verdict['wall_s'] / 60:.1f} min."
    )
    sec.details.append(_per_minute(folder, minutes * 60, windows))
    sec.details.append(
        "Faults applied per kind, and the requests they shaped by the gateway's own count "
        "(0: the drawn params never bit at this load, e.g. a per-user rate limit above what "
        "one person sends):\n\n" + _by_kind(folder)
    )
    sec.details.append("The fault timeline drawn from the seed:\n\n" + _timeline(folder))
    return sec


def bench_section(quick: bool, work: Path) -> Section:
    """`make bench`'s run: ten minutes (two when quick) of the seed above at the default rate."""
    return section(QUICK_MINUTES if quick else MINUTES, SEED, DEFAULT_RATE, work)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.chaos_soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--minutes", type=float, default=MINUTES, help="how long (default 10)")
    p.add_argument("--seed", type=int, default=SEED, help=f"the timeline's seed (default {SEED})")
    p.add_argument(
        "--rate", type=float, default=DEFAULT_RATE, help=f"payments/s (default {DEFAULT_RATE:g})"
    )
    p.add_argument("--keep", type=Path, default=None, help="keep the run folder here")
    p.add_argument(
        "--results", type=Path, default=RESULTS, help=f"the file to write (default {RESULTS})"
    )
    args = p.parse_args(argv)
    if args.minutes < 0.5 or args.rate <= 0:
        p.error("--minutes must be at least 0.5 and --rate above 0")
    with tempfile.TemporaryDirectory(prefix="paystorm-chaos-soak-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        sec = section(args.minutes, args.seed, args.rate, work)
    write([sec], args.results)
    for row in sec.rows:
        print(f"   {row.verdict:4} {row.figure}: {row.measured}", flush=True)
    missed = [r.figure for r in sec.rows if r.passed is False]
    print(f"wrote {args.results}; " + (f"missed: {'; '.join(missed)}" if missed else "held"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

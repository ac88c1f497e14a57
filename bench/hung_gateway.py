"""Dropped arrivals against a hung gateway: `python -m bench.hung_gateway`.

The figure: when the gateway hangs, the arrival-rate executor's
pool of `max_users` is always busy, it serves `pool / service_time` arrivals a second, and
drops the rest, so dropped/s must be within 2 % of `rate - pool / service_time`.

A generated arrival-rate scenario (200/s for 12 s, `max_users: 40`, client timeout 10 s, no
retries, 2,000 accounts and 50 merchants) runs through `paystorm run` with its embedded
gateway (profile bench: no artificial cost, so only the fault matters) and a `latency` fault
of 1,000 ms on every route from second 0. Each checkout makes two requests (GET
/v1/accounts/{id}, then POST /v1/payments), so a user is busy about 2 x 1,000 ms plus the
small real cost. The expected dropped/s is computed twice: from the nominal 2 s, and from the
measured mean payment latency (payments.jsonl, payments started inside the window). The
window leaves out the first 3 s (the pool fills) and the last second; dropped/s is the mean of
outcomes.csv's `dropped` over it. Two runs, medians. Not part of `make test`: each run takes
its 12 s plus about ten seconds of setup and reports.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.arrival_rate import run_sampling_locust
from bench.common import between, finished_run, python, seconds, total
from bench.report import RESULTS, Row, Section, table, write
from contract.lines import read_lines
from contract.runfolder import RunFolder
from reports.run import read_faults

RATE = 200.0  # arrivals/s
DURATION_S = 12
POOL = 40  # max_users
FAULT_MS = 1000.0
REQUESTS_PER_CHECKOUT = 2  # GET /v1/accounts/{id}, POST /v1/payments
NOMINAL_SERVICE_S = REQUESTS_PER_CHECKOUT * FAULT_MS / 1000
SKIP_FIRST_S, SKIP_LAST_S = 3, 1
TOLERANCE_PCT = 2.0
RUNS = 2


@dataclass(frozen=True)
class Figures:
    seconds: int  # seconds in the window
    offered_per_s: float
    dropped_per_s: float
    dropped_by_s: list[int]  # each second of the window
    taken_per_s: float  # payments started in the window, per s
    peak_users: int
    service_ms: float  # mean latency of the window's payments
    lateness_ms: float  # their mean start lateness
    outcomes: dict[str, int]  # the window's payments by outcome
    fault_start_s: float | None  # when the gateway applied the fault (run clock)
    run_dir: Path

    @property
    def expected_nominal(self) -> float:
        return expected(NOMINAL_SERVICE_S)

    @property
    def expected_measured(self) -> float:
        return expected(self.service_ms / 1000)


def expected(service_s: float) -> float:
    """Dropped/s when every user is always busy: arrivals beyond what the pool serves."""
    return RATE - POOL / service_s


def scenario() -> dict[str, Any]:
    return {
        "name": "bench-hung-gateway",
        "description": (
            f"{RATE:g}/s against a gateway that delays every request {FAULT_MS:g} ms, "
            f"with a pool of {POOL} users: most arrivals are dropped."
        ),
        "duration_s": DURATION_S,
        "load": {
            "model": "arrival-rate",
            "max_users": POOL,
            "stages": [{"until_s": DURATION_S, "rate": RATE}],
        },
        "population": {"accounts": 2000, "merchants": 50},
        "client": {"timeout_s": 10, "retry": "none"},
        "gateway": {"profile": "bench"},
        "faults": [{"kind": "latency", "params": {"ms": FAULT_MS}, "start_in_s": 0}],
    }


def run_once(work: Path) -> Figures:
    path = work / "hung-gateway.yaml"
    path.write_text(yaml.safe_dump(scenario(), sort_keys=False))
    out = work / "out"
    argv = [python(), "-m", "paystorm", "run", str(path), "--out", str(out)]
    output, _ = run_sampling_locust(argv, {}, DURATION_S + 180)
    return figures(finished_run(out, "hung gateway", output))


def figures(folder: RunFolder) -> Figures:
    lo, hi = SKIP_FIRST_S, DURATION_S - SKIP_LAST_S  # seconds lo … hi - 1
    width = hi - lo
    inside = between(seconds(folder), lo, hi)
    window = [p for p in read_lines(folder.payments) if lo <= p.start_s < hi]
    if not window:
        raise RuntimeError(f"hung gateway: no payment started in the window ({folder.path})")
    return Figures(
        seconds=width,
        offered_per_s=total(inside, "offered") / width,
        dropped_per_s=total(inside, "dropped") / width,
        dropped_by_s=[r.dropped for r in inside],
        taken_per_s=len(window) / width,
        peak_users=max((r.users for r in inside), default=0),
        service_ms=statistics.fmean(p.latency_ms for p in window if p.latency_ms is not None),
        lateness_ms=statistics.fmean(p.lateness_ms for p in window if p.lateness_ms is not None),
        outcomes=dict(Counter(p.outcome for p in window)),
        fault_start_s=_fault_start(folder),
        run_dir=folder.path,
    )


def _fault_start(folder: RunFolder) -> float | None:
    """When the gateway first applied a fault (seconds of the run's clock), from faults.json."""
    if not folder.faults.exists():
        return None
    return min((w.started_at_s for w in read_faults(folder.faults)), default=None)


def error_pct(measured: float, expected_value: float) -> float:
    return 100 * (measured - expected_value) / expected_value


def measure(work: Path, runs: int = RUNS) -> list[Figures]:
    out = []
    for n in range(runs):
        sub = work / f"hung-{n}"
        sub.mkdir(parents=True, exist_ok=True)
        out.append(run_once(sub))
    return out


def section(quick: bool, work: Path) -> Section:
    # --quick changes nothing: two runs of 12 s are already short.
    started = time.monotonic()
    s = build(measure(work), quick)
    s.wall_s = time.monotonic() - started
    return s


def build(runs: list[Figures], quick: bool) -> Section:
    measured = statistics.median(f.dropped_per_s for f in runs)
    service_ms = statistics.median(f.service_ms for f in runs)
    s = Section(
        name="hung_gateway",
        title="Dropped arrivals against a hung gateway",
        conditions=(
            f"`paystorm run` on a generated arrival-rate scenario: {RATE:g}/s for "
            f"{DURATION_S} s, `max_users: {POOL}`, client timeout 10 s, no retries, 2,000 "
            f"accounts, 50 merchants, embedded gateway `profile: bench` (unpinned), a "
            f"`latency` fault of {FAULT_MS:,.0f} ms on every route from second 0. A checkout makes "
            f"{REQUESTS_PER_CHECKOUT} requests, so the nominal service time is "
            f"{NOMINAL_SERVICE_S:g} s; *measured* service time = mean latency of the payments "
            f"started in the window (payments.jsonl). Window: seconds {SKIP_FIRST_S} to "
            f"{DURATION_S - SKIP_LAST_S - 1} (the first {SKIP_FIRST_S} s, while the pool fills, "
            f"and the last second left out); dropped/s = mean of outcomes.csv's `dropped` over "
            f"it. Expected = rate - pool / service time. {len(runs)} runs, medians; ratio = "
            "measured / expected."
        ),
        quick=quick,
    )
    for label, service_s in (
        (f"measured service time {service_ms / 1000:.3f} s", service_ms / 1000),
        (f"nominal service time {NOMINAL_SERVICE_S:g} s", NOMINAL_SERVICE_S),
    ):
        exp = expected(service_s)
        err = error_pct(measured, exp)
        s.rows.append(
            Row(
                figure=f"dropped/s, hung gateway, {label}",
                measured=f"{measured:.2f}/s ({err:+.2f} %)",
                baseline=f"expected {RATE:g} - {POOL}/{service_s:.3f} = {exp:.2f}/s",
                ratio=measured / exp,
                target=f"within ±{TOLERANCE_PCT:g} %",
                passed=abs(err) <= TOLERANCE_PCT,
            )
        )
    s.details.append(
        table(
            [
                "run",
                "offered/s",
                "dropped/s",
                "started/s",
                "peak users",
                "mean latency",
                "mean lateness",
                "expected (measured)",
                "error",
                "expected (nominal)",
                "error",
                "fault from",
                "dropped by second",
            ],
            [
                [
                    str(i + 1),
                    f"{f.offered_per_s:.1f}",
                    f"{f.dropped_per_s:.2f}",
                    f"{f.taken_per_s:.2f}",
                    str(f.peak_users),
                    f"{f.service_ms:,.1f} ms",
                    f"{f.lateness_ms:.2f} ms",
                    f"{f.expected_measured:.2f}",
                    f"{error_pct(f.dropped_per_s, f.expected_measured):+.2f} %",
                    f"{f.expected_nominal:.2f}",
                    f"{error_pct(f.dropped_per_s, f.expected_nominal):+.2f} %",
                    "n/a" if f.fault_start_s is None else f"{f.fault_start_s:.3f} s",
                    " ".join(str(d) for d in f.dropped_by_s),
                ]
                for i, f in enumerate(runs)
            ],
        )
    )
    s.details.append(
        "The pool works in step: the first {pool} arrivals take every user, all of whom come "
        "free together one service time later and take the next {pool}, so dropped/s "
        "alternates (200 while the pool is busy, 160 in a second where it refills). The "
        "{n} s window holds a whole number of ~2 s cycles, so its mean is the steady state. "
        "The count is quantised: each refill in the window takes {pool} arrivals, so one "
        "refill more or fewer (a window that cut a cycle) moves dropped/s by {pool}/{n} = "
        "{step:.1f}/s. Outcomes of the window's payments: {outcomes}.".format(
            pool=POOL,
            n=runs[0].seconds,
            step=POOL / runs[0].seconds,
            outcomes="; ".join(
                f"run {i + 1}: " + ", ".join(f"{k} {v}" for k, v in sorted(f.outcomes.items()))
                for i, f in enumerate(runs)
            ),
        )
    )
    return s


def report(f: Figures) -> str:
    fault = "n/a" if f.fault_start_s is None else f"{f.fault_start_s:.2f} s"
    return (
        f"window {f.seconds} s: offered {f.offered_per_s:.1f}/s, dropped "
        f"{f.dropped_per_s:.2f}/s, started {f.taken_per_s:.2f}/s, peak users {f.peak_users}\n"
        f"    mean latency {f.service_ms:.1f} ms, mean lateness {f.lateness_ms:.2f} ms, "
        f"outcomes {f.outcomes}, fault from {fault}\n"
        f"    expected (measured service) {f.expected_measured:.2f}/s: "
        f"{error_pct(f.dropped_per_s, f.expected_measured):+.2f} %; expected (nominal 2 s) "
        f"{f.expected_nominal:.2f}/s: {error_pct(f.dropped_per_s, f.expected_nominal):+.2f} %\n"
        f"    results {f.run_dir}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.hung_gateway", description=__doc__)
    p.add_argument("--runs", type=int, default=RUNS, help=f"runs, medians (default {RUNS})")
    p.add_argument("--keep", type=Path, default=None, help="keep the run folders here")
    p.add_argument(
        "--no-write", action="store_true", help="print only; leave bench/results.md as it is"
    )
    args = p.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="paystorm-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        runs = measure(work, args.runs)
        for i, f in enumerate(runs):
            print(f"run {i + 1}: {report(f)}", flush=True)
    s = build(runs, quick=False)
    s.wall_s = time.monotonic() - started
    for row in s.rows:
        print(f"{row.verdict:4} {row.figure}: {row.measured}; {row.baseline}")
    if not args.no_write:
        write([s])
        print(f"wrote the hung_gateway block of {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where the default profile bends: `python -m bench.knee`.

The default profile's channels give C/S = 12/50 ms + 8/50 ms = 400 payments/s. An open
arrival-rate ladder (100 → 800/s) runs through `paystorm run` twice: shedding off (requests
wait for admission until their client gives up at 3 s) and shedding on (`max_inflight: 64,
queue: 64`, overflow is 503 SYSTEM_BUSY). Per step: offered, succeeded/s, success rate, 503
share and p99. The peak throughput (the highest step mean of succeeded payments/s) is held to
400/s ± 15 %.

Succeeded/s is counted two ways. `outcomes.csv` counts a payment in the second it started;
beyond the knee a queue forms, so a step's starts keep succeeding after the step ends and its
mean can exceed what the gateway completes. Counted by the second each payment finished
(`payments.jsonl`: start + latency, each step's first 2 s left out as the hand-over from
the step before), it is the throughput the gateway delivered. The target uses that one.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.arrival_rate import cpu_pct, gateway_cpu_pct, run_sampling_locust
from bench.common import (
    BENCH,
    between,
    finished_run,
    print_section,
    python,
    seconds,
    t0_unix,
    total,
)
from bench.report import Row, Section, table
from contract.lines import read_lines
from contract.runfolder import RunFolder
from locustfiles.outcomes import percentile

CAPACITY_PER_S = 400.0  # bank_a 12 slots at 50 ms + bank_b 8 at 50 ms (profile default)
TOLERANCE = 0.15
HANDOVER_S = 2  # completions in a step's first seconds still belong to the step before
SHEDDING = {
    "off": {"capacity": {"shedding": False}},
    "on": {"capacity": {"shedding": True, "max_inflight": 64, "queue": 64}},
}


@dataclass(frozen=True)
class Step:
    offered: float  # per s, the step's target rate
    dropped: float  # per s
    succeeded_by_start: float  # per s, outcomes.csv
    succeeded_by_end: float  # per s, payments.jsonl by completion second
    success_rate: float | None
    busy_share: float  # SYSTEM_BUSY / payments
    p99_ms: float


@dataclass(frozen=True)
class Ladder:
    shedding: str
    steps: list[Step]
    locust_cpu_pct: float | None
    gateway_cpu_pct: float | None
    cpu_warnings: int  # Locust's own "CPU usage above 90%" warnings
    knee_per_s: float | None  # summary.json's knee (SLO success 99 %, p99 1 s)
    folder: RunFolder

    @property
    def peak_by_end(self) -> float:
        return max(s.succeeded_by_end for s in self.steps)

    @property
    def peak_by_start(self) -> float:
        return max(s.succeeded_by_start for s in self.steps)


def scenario(shedding: str, rates: list[float], step_s: float) -> dict[str, Any]:
    return {
        "name": f"bench-knee-shedding-{shedding}",
        "description": f"Capacity ladder {rates[0]:g} → {rates[-1]:g}/s, shedding {shedding}.",
        "duration_s": step_s * len(rates),
        "load": {
            "model": "arrival-rate",
            "max_users": 5000,  # 800/s times two calls of up to 3 s: arrivals always find a user
            "stages": [{"until_s": step_s * (i + 1), "rate": r} for i, r in enumerate(rates)],
        },
        "client": {"timeout_s": 3, "retry": "none"},
        "gateway": SHEDDING[shedding],
        "slo": {"success_rate": 0.99, "p99_ms": 1000},
    }


def run(shedding: str, rates: list[float], step_s: float, work: Path) -> Ladder:
    path = work / f"knee-{shedding}.yaml"
    path.write_text(yaml.safe_dump(scenario(shedding, rates, step_s), sort_keys=False))
    out = work / f"out-{shedding}"
    argv = [python(), "-m", "paystorm", "run", str(path), "--out", str(out)]
    duration_s = step_s * len(rates)
    output, samples = run_sampling_locust(argv, {}, duration_s + 240)
    folder = finished_run(out, f"knee, shedding {shedding}", output)
    t0 = t0_unix(folder)
    summary = json.loads(folder.summary.read_bytes())
    log = folder.locust_log.read_text(errors="replace")
    return Ladder(
        shedding=shedding,
        steps=steps(folder, rates, step_s),
        locust_cpu_pct=cpu_pct(samples, t0 + 1, t0 + duration_s - 0.5),
        gateway_cpu_pct=gateway_cpu_pct(folder, duration_s),
        cpu_warnings=log.count("CPU usage above"),
        knee_per_s=(summary.get("knee") or {}).get("offered_per_s"),
        folder=folder,
    )


def steps(folder: RunFolder, rates: list[float], step_s: float) -> list[Step]:
    rows = seconds(folder)
    # (intended start, latency, outcome) of every payment whose line has a latency
    payments = [
        (p.start_s, p.latency_ms, p.outcome)
        for p in read_lines(folder.payments)
        if p.latency_ms is not None
    ]
    ended = Counter(
        int(start + ms / 1000) for start, ms, outcome in payments if outcome == "succeeded"
    )
    result = []
    for i, rate in enumerate(rates):
        lo, hi = i * step_s, (i + 1) * step_s
        inside = between(rows, lo, hi)
        width = max(1, len(inside))
        had_credit = total(inside, "had_credit")
        started = sorted(ms for start, ms, _ in payments if lo <= start < hi)
        window = range(math.ceil(lo) + HANDOVER_S, math.ceil(hi))
        result.append(
            Step(
                offered=rate,
                dropped=total(inside, "dropped") / width,
                succeeded_by_start=total(inside, "succeeded") / width,
                succeeded_by_end=sum(ended[s] for s in window) / max(1, len(window)),
                success_rate=(
                    1 - total(inside, "had_credit_failed") / had_credit if had_credit else None
                ),
                busy_share=total(inside, "code_SYSTEM_BUSY") / max(1, total(inside, "payments")),
                p99_ms=percentile(started, 99) if started else math.nan,
            )
        )
    return result


def step_table(ladder: Ladder) -> str:
    return table(
        [
            "offered/s",
            "succeeded/s (by end)",
            "succeeded/s (by start)",
            "success rate",
            "503 share",
            "dropped/s",
            "p99",
        ],
        [
            [
                f"{s.offered:g}",
                f"{s.succeeded_by_end:.0f}",
                f"{s.succeeded_by_start:.0f}",
                "n/a" if s.success_rate is None else f"{s.success_rate:.1%}",
                f"{s.busy_share:.1%}",
                f"{s.dropped:.0f}",
                f"{s.p99_ms:,.0f} ms",
            ]
            for s in ladder.steps
        ],
    )


def falls_beyond_knee(ladder: Ladder) -> tuple[bool, str]:
    """Shedding off: the success rate at the top step is well below its best. Shedding on:
    the 503 share grows with every step beyond C/S and is a real share at the top."""
    beyond = [s for s in ladder.steps if s.offered > CAPACITY_PER_S]
    top = ladder.steps[-1]
    if ladder.shedding == "off":
        best = max(s.success_rate or 0.0 for s in ladder.steps)
        rate = top.success_rate or 0.0
        return rate < 0.9 * best, f"success {best:.1%} at best → {rate:.1%} at {top.offered:g}/s"
    shares = [s.busy_share for s in beyond]
    rising = all(b >= a for a, b in itertools.pairwise(shares))
    below = max((s.busy_share for s in ladder.steps if s.offered < CAPACITY_PER_S), default=0.0)
    ok = rising and top.busy_share >= 0.1 and below < 0.01
    return ok, (
        f"503 share {below:.1%} at most below C/S, then "
        + " → ".join(f"{x:.0%}" for x in shares)
        + f" from {beyond[0].offered:g} to {top.offered:g}/s"
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} %"


def section(quick: bool, work: Path) -> Section:
    rates = [200.0, 400.0, 600.0, 800.0] if quick else [100.0 * k for k in range(1, 9)]
    step_s = 8.0 if quick else 10.0
    started = time.monotonic()
    ladders = [run(shedding, rates, step_s, work) for shedding in SHEDDING]
    s = Section(
        name="knee",
        title="The knee (profile default, C/S = 400 payments/s)",
        conditions=(
            f"`paystorm run` on a generated arrival-rate ladder {rates[0]:g} → {rates[-1]:g}/s "
            f"in {len(rates)} steps of {step_s:g} s (client timeout 3 s, no retries, 5,000 "
            "users), embedded gateway unpinned (Locust and the gateway share both cores), one "
            "run per shedding setting. Succeeded/s *by end* counts payments in the second they "
            f"finished (payments.jsonl, each step's first {HANDOVER_S} s left out); *by start* "
            "counts them in the second they started (outcomes.csv)."
        ),
        quick=quick,
    )
    for ladder in ladders:
        name = f"shedding {ladder.shedding}"
        peak = ladder.peak_by_end
        s.rows.append(
            Row(
                figure=f"peak throughput, {name}",
                measured=f"{peak:.0f} succeeded/s (by start: {ladder.peak_by_start:.0f}/s)",
                baseline=f"C/S = {CAPACITY_PER_S:.0f}/s",
                ratio=peak / CAPACITY_PER_S,
                target=f"ratio 1 ± {TOLERANCE:.2f}",
                passed=abs(peak / CAPACITY_PER_S - 1) <= TOLERANCE,
            )
        )
        ok, how = falls_beyond_knee(ladder)
        s.rows.append(
            Row(
                figure=f"beyond the knee, {name}",
                measured=how,
                baseline="below C/S",
                ratio=None,
                target="success falls" if ladder.shedding == "off" else "503 share rises",
                passed=ok,
            )
        )
    for ladder in ladders:
        png = BENCH / f"knee_shedding_{ladder.shedding}.png"
        chart = ladder.folder.charts / "success_vs_load.png"
        if chart.exists():
            shutil.copyfile(chart, png)
        knee = "none" if ladder.knee_per_s is None else f"{ladder.knee_per_s:g}/s"
        s.details += [
            f"### Shedding {ladder.shedding}",
            f"CPU (of one core, during the ladder): Locust {_pct(ladder.locust_cpu_pct)}, "
            f"gateway {_pct(ladder.gateway_cpu_pct)}; Locust CPU warnings in locust.log: "
            f"{ladder.cpu_warnings}. Report's knee (SLO success ≥ 99 %, p99 ≤ 1 s): {knee}.",
            step_table(ladder),
            f"![success rate versus load, shedding {ladder.shedding}]({png.name})",
        ]
    s.wall_s = time.monotonic() - started
    return s


if __name__ == "__main__":
    sys.exit(print_section("knee", __doc__, section, "4 steps of 8 s instead of 8 of 10 s"))

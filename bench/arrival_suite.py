"""bench/arrival_rate.py's figures for `python -m bench`: how well the arrival-rate executor
holds its rate, as medians of several runs per case.

Cases: 1,000/s against the stub gateway (the executor alone; a prototype measured 0.0 %
rate error and start lateness p99 1.3 ms), 1,000/s against the real gateway (profile bench),
and 3,000/s against the stub (near one Locust process's ceiling, 3,000-4,000/s). Held to:
payments started within 1 % of the target rate.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bench.arrival_rate import Figures, run_once
from bench.report import Row, Section, table

CASES = (("stub", 1000.0), ("bench", 1000.0), ("stub", 3000.0))
RATE_TOLERANCE_PCT = 1.0
_LABEL = {"stub": "stub gateway", "bench": "gateway (bench profile)"}


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} %"


def section(quick: bool, work: Path) -> Section:
    runs, duration_s = (1, 6.0) if quick else (3, 10.0)
    started = time.monotonic()
    figures: dict[tuple[str, float], list[Figures]] = {case: [] for case in CASES}
    for n in range(runs):  # round-robin, so drift on the host spreads over every case
        for kind, rate in CASES:
            sub = work / f"arrivals-{n}-{kind}"
            sub.mkdir(parents=True, exist_ok=True)
            figures[(kind, rate)].append(run_once(rate, duration_s, sub, kind))
    s = Section(
        name="arrival_rate",
        title="Arrival-rate executor",
        conditions=(
            f"`python -m bench.arrival_rate` cases, {runs} run(s) of {duration_s:g} s each, "
            "round-robin: a steady rate through `paystorm run --target`, the gateway (or stub) "
            "on core 0, the runner and its one Locust process on core 1; medians over runs. "
            "Started = payments whose actual start fell inside the run."
        ),
        quick=quick,
    )
    rows = []
    for (kind, rate), fs in figures.items():
        err = statistics.median(f.started_error_pct for f in fs)
        s.rows.append(
            Row(
                figure=f"started rate, {rate:,.0f}/s, {_LABEL[kind]}",
                measured=f"{rate * (1 + err / 100):,.1f}/s ({err:+.2f} %)",
                baseline=f"target {rate:,.0f}/s",
                ratio=1 + err / 100,
                target=f"within ±{RATE_TOLERANCE_PCT:g} %",
                passed=abs(err) <= RATE_TOLERANCE_PCT,
            )
        )
        rows.append(
            [
                f"{rate:,.0f}/s, {_LABEL[kind]}",
                f"{statistics.median(f.offered_error_pct for f in fs):+.2f} %",
                f"{err:+.2f} %",
                f"{statistics.median(f.dropped for f in fs):,.0f}",
                f"{statistics.median(f.lateness_p50_ms for f in fs):.2f} ms",
                f"{statistics.median(f.lateness_p99_ms for f in fs):.2f} ms",
                f"{statistics.median(f.latency_p99_ms for f in fs):.1f} ms",
                _pct(_median([f.locust_cpu_pct for f in fs])),
                _pct(_median([f.gateway_cpu_pct for f in fs])),
            ]
        )
    s.details.append(
        table(
            [
                "case",
                "offered error",
                "started error",
                "dropped",
                "lateness p50",
                "lateness p99",
                "latency p99",
                "Locust CPU",
                "gateway CPU",
            ],
            rows,
        )
    )
    s.wall_s = time.monotonic() - started
    return s

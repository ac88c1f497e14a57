"""The overload case: `python -m bench --only overload`.

600 payments/s for 30 s against the default profile (about 400/s through its channels),
shoppers only, a 3 s client timeout, no retries, no faults — run with a pool of 600 users
(starved: it turns people away), 6,000, and none named (sized from the scenario), one after
another, in interleaved rounds. Side by side: each run's headline (success of the people
with credit, dropped arrivals counted as not served), its drops, the success of the payments
it served, p50/p95/p99 of its successful payments, how late the generator began payments,
and ghost charges. The targets: the sized pool drops under 0.1 % of the arrivals, and the
starved pool's headline stays within 3 points of the sized one's."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.arrival_rate import cpu_pct, run_sampling_locust
from bench.common import finished_run, python, t0_unix
from bench.report import Row, Section, table
from contract import runfolder
from contract.lines import read_lines
from reports.run import read_run_info

RATE = 600
DURATION_S = 30
POOLS: tuple[int | None, ...] = (600, 6000, None)
ROUNDS, QUICK_ROUNDS = 2, 1
DROPPED_TARGET = 0.001
HEADLINE_POINTS = 3.0


@dataclass(frozen=True)
class Measured:
    pool: int | None
    pool_users: int
    headline: float
    served_success: float
    dropped: int
    offered: int
    success_p50_ms: float
    success_p95_ms: float
    success_p99_ms: float
    late_p99_ms: float
    late_max_ms: float
    ghost_charges: int
    locust_cpu_pct: float | None

    @property
    def dropped_rate(self) -> float:
        return self.dropped / self.offered if self.offered else 0.0


def scenario(pool: int | None) -> dict[str, Any]:
    load: dict[str, Any] = {"model": "arrival-rate"}
    if pool is not None:
        load["max_users"] = pool
    load["stages"] = [{"until_s": DURATION_S, "rate": RATE}]
    return {
        "name": f"bench-overload-pool-{pool or 'sized'}",
        "description": f"{RATE}/s against the default profile, 3 s timeout, no retries.",
        "duration_s": DURATION_S,
        "load": load,
        "client": {"timeout_s": 3, "retry": "none"},
        "mix": {"shopper": 100},
    }


def run(pool: int | None, work: Path) -> Measured:
    path = work / f"overload-{pool or 'sized'}.yaml"
    path.write_text(yaml.safe_dump(scenario(pool), sort_keys=False))
    out = work / f"out-{pool or 'sized'}"
    argv = [python(), "-m", "paystorm", "run", str(path), "--out", str(out)]
    output, samples = run_sampling_locust(argv, {}, DURATION_S + 240)
    folder = finished_run(out, f"overload, pool {pool}", output, needs=runfolder.SUMMARY)
    summary = json.loads(folder.summary.read_bytes())
    info = read_run_info(folder.run)
    if info.pool is None:
        raise RuntimeError(f"overload, pool {pool}: {folder.run} names no pool")
    t0 = t0_unix(folder)
    lines = list(read_lines(folder.payments))
    ok = np.array(
        [p.latency_ms for p in lines if p.outcome == "succeeded" and p.latency_ms is not None]
    )
    late = np.array([p.lateness_ms for p in lines if p.lateness_ms is not None])
    p50, p95, p99 = (float(x) for x in np.percentile(ok, [50, 95, 99]))
    return Measured(
        pool=pool,
        pool_users=info.pool.users,
        headline=float(summary["success_rate"]),
        served_success=float(summary["success_rate_of_served"]),
        dropped=int(summary["dropped"]),
        offered=int(summary["offered"]),
        success_p50_ms=p50,
        success_p95_ms=p95,
        success_p99_ms=p99,
        late_p99_ms=float(np.percentile(late, 99)),
        late_max_ms=float(late.max()),
        ghost_charges=int(summary["ghost_charges"] or 0),
        locust_cpu_pct=cpu_pct(samples, t0 + 1, t0 + DURATION_S - 0.5),
    )


def section(quick: bool, work: Path) -> Section:
    started = time.monotonic()
    rounds = QUICK_ROUNDS if quick else ROUNDS
    measured: list[Measured] = []
    for _ in range(rounds):
        for pool in POOLS:
            measured.append(run(pool, work))

    def of(pool: int | None) -> list[Measured]:
        return [m for m in measured if m.pool == pool]

    sized, starved = of(None), of(600)
    drops = statistics.median(m.dropped_rate for m in sized)
    gap = statistics.median(
        100 * abs(a.headline - b.headline) for a, b in zip(starved, sized, strict=True)
    )
    rows = [
        Row(
            "arrivals dropped, pool sized from the scenario",
            f"{100 * drops:.3f} % (median of {len(sized)})",
            f"pool 600: {100 * statistics.median(m.dropped_rate for m in starved):.1f} %",
            None,
            f"< {100 * DROPPED_TARGET:g} %",
            drops < DROPPED_TARGET,
        ),
        Row(
            "headline, pool 600 against the sized pool",
            f"{gap:.1f} points apart (median of {len(sized)} pairs)",
            f"sized: {100 * statistics.median(m.headline for m in sized):.2f} %",
            None,
            f"≤ {HEADLINE_POINTS:g} points",
            gap <= HEADLINE_POINTS,
        ),
    ]
    header = [
        "pool (users)",
        "headline",
        "served ok",
        "dropped",
        "ok p50",
        "ok p95",
        "ok p99",
        "late p99 / max",
        "ghost charges",
        "Locust CPU",
    ]
    body = [
        [
            f"{m.pool or 'sized'} ({m.pool_users:,})",
            f"{100 * m.headline:.2f} %",
            f"{100 * m.served_success:.2f} %",
            f"{m.dropped:,} ({100 * m.dropped_rate:.1f} %)",
            f"{m.success_p50_ms:,.0f} ms",
            f"{m.success_p95_ms:,.0f} ms",
            f"{m.success_p99_ms:,.0f} ms",
            f"{m.late_p99_ms:,.0f} / {m.late_max_ms:,.0f} ms",
            f"{m.ghost_charges:,}",
            "n/a" if m.locust_cpu_pct is None else f"{m.locust_cpu_pct:.0f} %",
        ]
        for m in sorted(measured, key=lambda m: POOLS.index(m.pool))
    ]
    return Section(
        name="overload",
        title=f"Overload: {RATE}/s against the default profile, three pools",
        conditions=(
            f"{RATE} payments/s for {DURATION_S} s, shoppers only, client timeout 3 s, no "
            "retries, no faults, default gateway profile (about 400 payments/s through its "
            f"channels, shedding off); pools of 600 and 6,000 users and one sized from the "
            f"scenario, one run after another in {rounds} interleaved round(s), gateway and "
            "Locust side by side on two cores. *Headline*: success of the people with "
            "credit, dropped arrivals counted as not served; *served ok*: of the payments the "
            "generator served. Latency of successful payments from their intended start; "
            "*late*: how long after its intended start the generator began a payment."
        ),
        rows=rows,
        details=[table(header, body)],
        wall_s=time.monotonic() - started,
        quick=quick,
    )

"""What the fault engine costs when no fault is active: `python -m bench.fault_cost`.

Each round starts, one after the other and in a rotating order, four servers on core 0 and
drives each with wrk (bench/pay.lua, -c64) from core 1:

- `gateway`: the real gateway, profile bench, fault engine loaded but idle;
- `no-op stages`: the same with every fault stage a no-op (bench/no_faults_gateway.py);
- `no-op stages, no peek`: also without reading a payment's body for fault targeting;
- `bare`: a bare aiohttp handler (bench/bare_app.py), gateway_cost.py's baseline.

Per round, ratios of payments/s: gateway / no-op stages (the idle engine's cost, held to
under 5 %), and gateway / bare (held to at least 0.5). The
figures are medians over rounds.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from bench.common import median
from bench.gateway_cost import Driven, Served, bare_server, drive, gateway_server
from bench.report import Row, Section, table

IDLE_COST_MAX = 0.05
GATEWAY_RATIO_MIN = 0.5
VARIANTS: dict[str, Callable[[], AbstractContextManager[Served]]] = {
    "gateway": gateway_server,
    "no-op stages": lambda: gateway_server("bench.no_faults_gateway"),
    "no-op stages, no peek": lambda: gateway_server("bench.no_faults_gateway", "--no-peek"),
    "bare": bare_server,
}


@dataclass(frozen=True)
class Rounds:
    seconds: int
    results: list[dict[str, Driven]]  # one per round, by variant

    def rps(self, variant: str) -> list[float]:
        return [r[variant].requests_per_s for r in self.results]

    def ratios(self, num: str, den: str) -> list[float]:
        return [a / b for a, b in zip(self.rps(num), self.rps(den), strict=True)]


def run(rounds: int, seconds: int) -> Rounds:
    names = list(VARIANTS)
    results = []
    for n in range(rounds):
        order = names[n % len(names) :] + names[: n % len(names)]  # no variant always first
        got: dict[str, Driven] = {}
        for name in order:
            with VARIANTS[name]() as served:
                got[name] = drive(served, seconds, f"r{n}{name[:2]}")
        results.append(got)
        idle = got["gateway"].requests_per_s / got["no-op stages"].requests_per_s
        each = ", ".join(f"{k} {v.requests_per_s:,.0f}/s" for k, v in got.items())
        print(f"round {n + 1}: {each}; gateway / no-op {idle:.3f}", flush=True)
    return Rounds(seconds, results)


def section(quick: bool) -> Section:
    rounds, seconds = (3, 5) if quick else (5, 10)
    started = time.monotonic()
    r = run(rounds, seconds)
    idle = median(r.ratios("gateway", "no-op stages"))
    idle_peek = median(r.ratios("gateway", "no-op stages, no peek"))
    vs_bare = median(r.ratios("gateway", "bare"))
    gw, noop = median(r.rps("gateway")), median(r.rps("no-op stages"))
    s = Section(
        name="fault_cost",
        title="Fault engine idle cost, and the gateway against a bare handler",
        conditions=(
            f"Profile bench; each server on core 0, wrk -t1 -c64 -d{seconds}s with "
            f"bench/pay.lua on core 1; {rounds} rounds of the four servers back to back, in a "
            "rotating order; ratios per round, then medians. Payments/s are wrk's requests/s "
            "(legitimate declines, 402, included: they are real work)."
        ),
        quick=quick,
    )
    s.rows += [
        Row(
            figure="idle fault engine: gateway / no-op stages",
            measured=f"{gw:,.0f}/s",
            baseline=f"no-op stages: {noop:,.0f}/s",
            ratio=idle,
            target=f"cost < {IDLE_COST_MAX:.0%} (ratio > {1 - IDLE_COST_MAX:.2f})",
            passed=idle > 1 - IDLE_COST_MAX,
        ),
        Row(
            figure="idle engine and body peek: gateway / no-op stages, no peek",
            measured=f"{gw:,.0f}/s",
            baseline=f"no peek: {median(r.rps('no-op stages, no peek')):,.0f}/s",
            ratio=idle_peek,
            target="reported",
            passed=None,
        ),
        Row(
            figure="gateway / bare aiohttp handler",
            measured=f"{gw:,.0f}/s",
            baseline=f"bare: {median(r.rps('bare')):,.0f}/s",
            ratio=vs_bare,
            target=f"≥ {GATEWAY_RATIO_MIN}",
            passed=vs_bare >= GATEWAY_RATIO_MIN,
        ),
    ]
    s.details.append(
        table(
            ["round", *(f"{v} /s" for v in VARIANTS), "gateway / no-op", "gateway / bare"],
            [
                [
                    str(i + 1),
                    *(f"{res[v].requests_per_s:,.0f}" for v in VARIANTS),
                    f"{res['gateway'].requests_per_s / res['no-op stages'].requests_per_s:.3f}",
                    f"{res['gateway'].requests_per_s / res['bare'].requests_per_s:.3f}",
                ]
                for i, res in enumerate(r.results)
            ],
        )
    )
    p99 = {v: median([res[v].wrk.p99_ms for res in r.results]) for v in VARIANTS}
    cpu = {v: median([res[v].server_cpu_pct for res in r.results]) for v in VARIANTS}
    s.details.append(
        "Medians over rounds: wrk p99 "
        + ", ".join(f"{v} {ms:.1f} ms" for v, ms in p99.items())
        + "; server CPU (of core 0, all its threads) "
        + ", ".join(f"{v} {pct:.0f} %" for v, pct in cpu.items())
        + ". A server near 100 % is CPU-bound, so its requests/s measure its CPU cost."
    )
    s.wall_s = time.monotonic() - started
    return s


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.fault_cost", description=__doc__)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=int, default=10)
    args = p.parse_args()
    r = run(args.rounds, args.seconds)
    print(
        f"medians of {args.rounds} rounds: gateway / no-op stages "
        f"{median(r.ratios('gateway', 'no-op stages')):.3f}, gateway / no-op without peek "
        f"{median(r.ratios('gateway', 'no-op stages, no peek')):.3f}, gateway / bare "
        f"{median(r.ratios('gateway', 'bare')):.3f}"
    )


if __name__ == "__main__":
    main()

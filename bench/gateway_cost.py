"""The gateway's own cost: payments/s of the gateway (profile bench, durable group
commit, fault engine loaded but idle) against a bare aiohttp handler that parses a JSON
payment and answers JSON, both pinned to core 0 and driven by wrk (bench/pay.lua, -c64) from
core 1; its p99 latency at half its peak rate; and what durability costs: the same gateway
with one transaction per payment, and with no fsync at all (`ledger:` in a --config file).

Each round runs the four servers back to back in a rotating order, then the gateway again at
half the rate it just reached; ratios are taken per round, the figures are medians.

    python -m bench.gateway_cost [--rounds 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.common import WrkResult, cpu_seconds, median, python, serve, wrk
from bench.report import Row, Section, table

SERVER_CORE, WRK_CORE = 0, 1
CONNECTIONS = 64
Served = tuple[str, int]  # URL, process id
RATIO_MIN = 0.5
HALF_PEAK_P99_MAX_MS = 10.0
FSYNC_COST_MAX = 0.10


@dataclass(frozen=True)
class Driven:
    wrk: WrkResult
    server_cpu_pct: float  # of one core, while wrk ran
    commits: float = 0.0  # ledger transactions during the run (0: not a gateway)
    writes: float = 0.0  # request writes they carried

    @property
    def requests_per_s(self) -> float:
        return self.wrk.requests_per_s

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_pct / 100 / self.requests_per_s * 1e6

    @property
    def mean_batch(self) -> float:
        return self.writes / self.commits if self.commits else 0.0


@contextmanager
def bare_server() -> Iterator[Served]:
    with serve([python(), "-m", "bench.bare_app", "0"], core=SERVER_CORE) as served:
        yield served


@contextmanager
def gateway_server(
    module: str = "mock_gateway",
    *extra: str,
    config: Mapping[str, Any] | None = None,
    db: Path | None = None,
) -> Iterator[Served]:
    """A gateway (profile bench) from `python -m module`, on a new ledger file unless `db`
    names one; `config` becomes its --config file (profile overrides)."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [python(), "-m", module, *extra, "--port", "0", "--profile", "bench"]
        argv += ["--db", str(db or Path(tmp) / "ledger.db"), "--admin-token", "bench"]
        if config is not None:
            path = Path(tmp) / "gateway.yaml"
            path.write_text(yaml.safe_dump(dict(config)), encoding="utf-8")
            argv += ["--config", str(path)]
        with serve(argv, core=SERVER_CORE) as served:
            yield served


def drive(
    served: Served,
    seconds: int,
    run_id: str,
    *,
    delay_ms: int = 0,
    accounts: int | None = None,
) -> Driven:
    """wrk -c64 with pay.lua from its own core; `run_id` keeps idempotency keys unique;
    `delay_ms` makes each connection pause between payments (a rate below the peak)."""
    url, pid = served
    env = {"PAYSTORM_RUN": run_id, "PAYSTORM_DELAY_MS": str(delay_ms)}
    if accounts is not None:
        env["PAYSTORM_ACCOUNTS"] = str(accounts)
    before = ledger_counters(url)
    cpu, wall = cpu_seconds(pid), time.monotonic()
    result = wrk(url, core=WRK_CORE, seconds=seconds, connections=CONNECTIONS, env=env)
    used = (cpu_seconds(pid) - cpu) / (time.monotonic() - wall)
    after = ledger_counters(url)
    return Driven(
        result,
        100 * used,
        commits=after.get("commits", 0.0) - before.get("commits", 0.0),
        writes=after.get("writes", 0.0) - before.get("writes", 0.0),
    )


_COUNTER = re.compile(r"^paystorm_ledger_(commits|committed_writes)_total (\S+)$", re.M)


def ledger_counters(url: str) -> dict[str, float]:
    """The gateway's commit counters from /metrics; empty for a server without them."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    found = {m.group(1): float(m.group(2)) for m in _COUNTER.finditer(text)}
    return {"commits": found.get("commits", 0.0), "writes": found.get("committed_writes", 0.0)}


def half_rate_delay_ms(peak_per_s: float) -> int:
    """The pause per connection that offers about half of `peak_per_s`. Each connection sends
    one payment per (pause + latency); at half load the latency is a few ms, so the rate
    lands a little under half."""
    return max(1, round(CONNECTIONS / (peak_per_s / 2) * 1000))


VARIANTS: dict[str, Callable[[], AbstractContextManager[Served]]] = {
    "gateway": gateway_server,
    "one transaction per payment": lambda: gateway_server(config={"ledger": {"commit": "each"}}),
    "no fsync": lambda: gateway_server(config={"ledger": {"fsync": False}}),
    "bare": bare_server,
}
HALF = "gateway at half its peak"


@dataclass(frozen=True)
class Rounds:
    seconds: int
    results: list[dict[str, Driven]]  # one per round, by variant (and HALF)

    def rps(self, variant: str) -> list[float]:
        return [r[variant].requests_per_s for r in self.results]

    def ratios(self, num: str, den: str) -> list[float]:
        return [a / b for a, b in zip(self.rps(num), self.rps(den), strict=True)]

    def each(self, variant: str, figure: Callable[[Driven], float]) -> float:
        return median([figure(r[variant]) for r in self.results])


def run(rounds: int, seconds: int) -> Rounds:
    names = list(VARIANTS)
    results = []
    for n in range(rounds):
        order = names[n % len(names) :] + names[: n % len(names)]  # no variant always first
        got: dict[str, Driven] = {}
        for name in order:
            with VARIANTS[name]() as served:
                got[name] = drive(served, seconds, f"g{n}{name[:3]}")
        peak = got["gateway"]
        delay = half_rate_delay_ms(peak.requests_per_s)
        with gateway_server() as served:
            got[HALF] = drive(served, seconds, f"h{n}", delay_ms=delay)
        results.append(got)
        each = ", ".join(f"{k} {v.requests_per_s:,.0f}/s" for k, v in got.items())
        print(
            f"round {n + 1}: {each}; gateway / bare "
            f"{peak.requests_per_s / got['bare'].requests_per_s:.3f}; p99 at "
            f"{got[HALF].requests_per_s:,.0f}/s: {got[HALF].wrk.p99_ms:.1f} ms",
            flush=True,
        )
    return Rounds(seconds, results)


def section(quick: bool) -> Section:
    rounds, seconds = (2, 5) if quick else (3, 10)
    started = time.monotonic()
    r = run(rounds, seconds)
    gw = median(r.rps("gateway"))
    vs_bare = median(r.ratios("gateway", "bare"))
    half_rate = median(r.rps(HALF))
    half_p99 = r.each(HALF, lambda d: d.wrk.p99_ms)
    each = "one transaction per payment"
    fsync_cost = median(r.ratios("gateway", "no fsync"))
    group_gain = median(r.ratios("gateway", each))
    s = Section(
        name="gateway_cost",
        title="The gateway's own cost, and what durability costs",
        conditions=(
            f"Profile bench (durable group commit: WAL, synchronous=FULL; fault engine loaded "
            f"but idle); each server on core 0, wrk -t1 -c{CONNECTIONS} -d{seconds}s with "
            f"bench/pay.lua (unique idempotency keys, 10,000 accounts) on core 1; {rounds} "
            "rounds of the four servers back to back in a rotating order, then the gateway "
            "again at half the rate it reached in that round (each connection pausing between "
            "payments); ratios per round, then medians. Payments/s are wrk's requests/s "
            "(legitimate declines, 402, included: they are real work). The durability "
            "variants are the same gateway with a `--config` of `ledger: {commit: each}` (one "
            "transaction per payment) or `ledger: {fsync: false}` (synchronous=OFF)."
        ),
        quick=quick,
    )
    s.rows += [
        Row(
            figure="gateway / bare aiohttp handler",
            measured=f"{gw:,.0f}/s",
            baseline=f"bare: {median(r.rps('bare')):,.0f}/s",
            ratio=vs_bare,
            target=f"≥ {RATIO_MIN}",
            passed=vs_bare >= RATIO_MIN,
        ),
        Row(
            figure="p99 latency at half the peak rate",
            measured=f"{half_p99:.1f} ms at {half_rate:,.0f}/s",
            baseline=f"peak {gw:,.0f}/s",
            ratio=half_rate / gw,
            target=f"< {HALF_PEAK_P99_MAX_MS:.0f} ms",
            passed=half_p99 < HALF_PEAK_P99_MAX_MS,
        ),
        Row(
            figure="durability's cost with group commit: gateway / no fsync",
            measured=f"{gw:,.0f}/s",
            baseline=f"no fsync: {median(r.rps('no fsync')):,.0f}/s",
            ratio=fsync_cost,
            target=f"cost < {FSYNC_COST_MAX:.0%} (ratio > {1 - FSYNC_COST_MAX:.2f})",
            passed=fsync_cost > 1 - FSYNC_COST_MAX,
        ),
        Row(
            figure="group commit / one transaction per payment",
            measured=f"{gw:,.0f}/s",
            baseline=f"one per payment: {median(r.rps(each)):,.0f}/s",
            ratio=group_gain,
            target="reported",
            passed=None,
        ),
    ]
    shown = [*VARIANTS, HALF]
    s.details.append(
        table(
            ["round", *(f"{v} /s" for v in shown), "gateway / bare", "p99 at half peak"],
            [
                [
                    str(i + 1),
                    *(f"{res[v].requests_per_s:,.0f}" for v in shown),
                    f"{res['gateway'].requests_per_s / res['bare'].requests_per_s:.3f}",
                    f"{res[HALF].wrk.p99_ms:.1f} ms",
                ]
                for i, res in enumerate(r.results)
            ],
        )
    )
    s.details.append(
        table(
            [
                "server (medians over rounds)",
                "p50",
                "p99",
                "CPU of core 0",
                "CPU per payment",
                "payments per commit",
            ],
            [
                [
                    v,
                    f"{r.each(v, lambda d: d.wrk.p50_ms):.1f} ms",
                    f"{r.each(v, lambda d: d.wrk.p99_ms):.1f} ms",
                    f"{r.each(v, lambda d: d.server_cpu_pct):.0f} %",
                    f"{r.each(v, lambda d: d.cpu_us_per_request):.0f} µs",
                    "—" if v == "bare" else f"{r.each(v, lambda d: d.mean_batch):.1f}",
                ]
                for v in shown
            ],
        )
    )
    s.details.append(
        "CPU per payment is the server's CPU time (all its threads) over the payments it "
        "answered: on a shared host it holds steadier than payments/s, and its ratio to the "
        "bare handler's is the ratio the gateway would reach with core 0 to itself."
    )
    s.wall_s = time.monotonic() - started
    return s


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.gateway_cost", description=__doc__)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=10)
    args = p.parse_args()
    r = run(args.rounds, args.seconds)
    print(
        f"medians of {args.rounds} rounds: gateway {median(r.rps('gateway')):,.0f}/s, "
        f"gateway / bare {median(r.ratios('gateway', 'bare')):.3f}, gateway / no fsync "
        f"{median(r.ratios('gateway', 'no fsync')):.3f}, gateway / one transaction per "
        f"payment {median(r.ratios('gateway', 'one transaction per payment')):.3f}"
    )


if __name__ == "__main__":
    main()

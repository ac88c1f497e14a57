"""The gateway's own cost: payments/s of the gateway (profile bench, durable group commit, fault
engine loaded but idle) against a bare aiohttp handler, both pinned to core 0 and driven by wrk
from core 1, in back-to-back pairs; the figure is the median ratio.

    python -m bench.gateway_cost [--pairs 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import WrkResult, cpu_seconds, median, python, serve, wrk

SERVER_CORE, WRK_CORE = 0, 1
Served = tuple[str, int]  # URL, process id


@dataclass(frozen=True)
class Driven:
    wrk: WrkResult
    server_cpu_pct: float  # of one core, while wrk ran

    @property
    def requests_per_s(self) -> float:
        return self.wrk.requests_per_s


@contextmanager
def bare_server() -> Iterator[Served]:
    with serve([python(), "-m", "bench.bare_app", "0"], core=SERVER_CORE) as served:
        yield served


@contextmanager
def gateway_server(module: str = "mock_gateway", *extra: str) -> Iterator[Served]:
    """A fresh gateway (profile bench, its own new ledger file) from `python -m module`."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [python(), "-m", module, *extra, "--port", "0", "--profile", "bench"]
        argv += ["--db", str(Path(tmp) / "ledger.db"), "--admin-token", "bench"]
        with serve(argv, core=SERVER_CORE) as served:
            yield served


def drive(served: Served, seconds: int, run_id: str) -> Driven:
    """wrk -c64 with pay.lua from its own core; `run_id` keeps idempotency keys unique."""
    url, pid = served
    cpu, wall = cpu_seconds(pid), time.monotonic()
    result = wrk(url, core=WRK_CORE, seconds=seconds, env={"PAYSTORM_RUN": run_id})
    used = (cpu_seconds(pid) - cpu) / (time.monotonic() - wall)
    return Driven(result, 100 * used)


def run(pairs: int, seconds: int) -> dict[str, float]:
    ratios, bare_rps, gw_rps, gw_p99 = [], [], [], []
    for n in range(pairs):
        with bare_server() as served:
            bare = drive(served, seconds, f"b{n}").wrk
        with gateway_server() as served:
            gw = drive(served, seconds, f"p{n}").wrk
        ratios.append(gw.requests_per_s / bare.requests_per_s)
        bare_rps.append(bare.requests_per_s)
        gw_rps.append(gw.requests_per_s)
        gw_p99.append(gw.p99_ms)
        print(
            f"pair {n + 1}: bare {bare.requests_per_s:,.0f}/s, gateway "
            f"{gw.requests_per_s:,.0f}/s (p99 {gw.p99_ms:.1f} ms, non-2xx {gw.non_2xx}), "
            f"ratio {ratios[-1]:.2f}",
            flush=True,
        )
    return {
        "bare_rps": median(bare_rps),
        "gateway_rps": median(gw_rps),
        "ratio": median(ratios),
        "gateway_p99_ms": median(gw_p99),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--seconds", type=int, default=10)
    args = p.parse_args()
    result = run(args.pairs, args.seconds)
    print(
        f"median of {args.pairs} pairs: bare {result['bare_rps']:,.0f}/s, gateway "
        f"{result['gateway_rps']:,.0f}/s, ratio {result['ratio']:.2f}"
    )


if __name__ == "__main__":
    main()

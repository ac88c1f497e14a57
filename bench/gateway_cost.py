"""The gateway's own cost: payments/s of the gateway (profile bench, durable group commit, fault
engine loaded but idle) against a bare aiohttp handler, both pinned to core 0 and driven by wrk
from core 1, in back-to-back pairs; the figure is the median ratio.

    python -m bench.gateway_cost [--pairs 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.common import median, python, server, wrk


def run(pairs: int, seconds: int) -> dict[str, float]:
    ratios, bare_rps, gw_rps, gw_p99 = [], [], [], []
    for n in range(pairs):
        with server([python(), "-m", "bench.bare_app", "0"], core=0) as url:
            bare = wrk(url, core=1, seconds=seconds)
        with (
            tempfile.TemporaryDirectory() as tmp,
            server(
                [
                    python(),
                    "-m",
                    "mock_gateway",
                    "--port",
                    "0",
                    "--profile",
                    "bench",
                    "--db",
                    str(Path(tmp) / "ledger.db"),
                    "--admin-token",
                    "bench",
                ],
                core=0,
            ) as url,
        ):
            gw = wrk(url, core=1, seconds=seconds, env={"PAYSTORM_RUN": f"p{n}"})
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

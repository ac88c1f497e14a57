"""`python -m bench` (`make bench`): run every benchmark and write bench/results.md.

    python -m bench [--quick] [--only NAME …] [--keep DIR]

Benchmarks: latency_fault (a latency fault's added delay), knee (peak throughput of the
default profile against C/S, shedding off and on), fault_cost (the idle fault engine, and the
gateway against a bare handler), gateway_cost (the gateway against a bare handler, its p99
at half its peak, and what durability costs), proxy_cost (the fault proxy's added latency and
throughput against a direct connection, no fault active), arrival_rate (the arrival-rate executor),
hung_gateway (dropped arrivals when every request hangs 1 s), overload (600/s against the
default profile with pools of 600, 6,000 and one sized from the scenario), report_scale
(the report of a one-hour run: 3,600 s of outcomes and a million payment lines),
generator_cost (our shoppers against a bare FastHttpUser, per Locust process), scaling (one
Locust process against two workers), ui_cost (Locust's CPU with the web UI's live view
open, against a headless run), capacity (`paystorm capacity` at full scale, and against
the capacity-ladder's knee), spread (the headline's spread over five repeats of steady and
of flash-sale) and chaos_soak (every fault kind churning for ten minutes at 200 payments/s,
then the money and the gateway judged; two minutes with --quick). A full run takes about an
hour (capacity and spread about 30 minutes of it, the chaos soak 12),
`--quick` about 15. growth (1,000 versus 1,000,000 accounts, a ledger of 10 million payments,
memory after a million payments: about 8 minutes and 8 GB of temporary disk) runs only when
named: `--only growth` (`make bench-growth`). schemathesis (schemathesis
over the whole API document, every phase and check, a fresh seed: about 3 minutes) runs
with the others. Every process is started here and stopped
before the next benchmark; all traffic stays on loopback.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import (
    arrival_suite,
    capacity,
    chaos_soak,
    fault_cost,
    gateway_cost,
    generator_cost,
    growth,
    hung_gateway,
    knee,
    latency_fault,
    overload,
    proxy_cost,
    report_scale,
    scaling,
    schemathesis_fuzz,
    spread,
    ui_cost,
)
from bench.report import ORDER, RESULTS, Section, write

Benchmark = Callable[[bool, Path], Section]
BENCHMARKS: dict[str, Benchmark] = {
    "latency_fault": lambda quick, work: latency_fault.section(quick),
    "knee": knee.section,
    "fault_cost": lambda quick, work: fault_cost.section(quick),
    "gateway_cost": lambda quick, work: gateway_cost.section(quick),
    "proxy_cost": lambda quick, work: proxy_cost.section(quick),
    "arrival_rate": arrival_suite.section,
    "hung_gateway": hung_gateway.section,
    "overload": overload.section,
    "schemathesis": schemathesis_fuzz.section,
    "report_scale": report_scale.section,
    "generator_cost": generator_cost.section,
    "scaling": scaling.section,
    "ui_cost": ui_cost.section,
    "capacity": capacity.section,
    "spread": spread.section,
    "chaos_soak": chaos_soak.bench_section,
    "growth": growth.section,
}
assert tuple(BENCHMARKS) == ORDER
# Long and disk-hungry: run only when asked for by name.
BY_NAME_ONLY = ("growth",)
DEFAULT = [name for name in BENCHMARKS if name not in BY_NAME_ONLY]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="fewer rounds and shorter runs")
    p.add_argument(
        "--only",
        choices=list(BENCHMARKS),
        action="append",
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    p.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep the benchmarks' run folders here (default: a temporary folder, removed)",
    )
    p.add_argument(
        "--results", type=Path, default=RESULTS, help=f"the file to write (default {RESULTS})"
    )
    args = p.parse_args(argv)
    names = args.only or DEFAULT
    started = time.monotonic()
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="paystorm-bench-") as tmp:
        work = args.keep or Path(tmp)
        for name in names:
            print(f"== {name}", flush=True)
            folder = work / name
            folder.mkdir(parents=True, exist_ok=True)
            section = BENCHMARKS[name](args.quick, folder)
            sections.append(section)
            for row in section.rows:
                ratio = "" if row.ratio is None else f", ratio {row.ratio:.3f}"
                print(f"   {row.verdict:4} {row.figure}: {row.measured}{ratio}", flush=True)
            write(sections, args.results)  # a later failure keeps what was measured
    wall_s = time.monotonic() - started
    everything = names == DEFAULT  # the wall time of a whole run only
    write(sections, args.results, footer=_footer(args.quick, wall_s) if everything else None)
    missed = [r.figure for s in sections for r in s.rows if r.passed is False]
    verdict = f"missed: {'; '.join(missed)}" if missed else "every target met"
    print(f"wrote {args.results} in {wall_s:.0f} s; {verdict}")
    return 0


def _footer(quick: bool, wall_s: float) -> str:
    mode = "`--quick`" if quick else "full"
    return f"Last whole `python -m bench` ({mode}): {wall_s / 60:.1f} min wall time.\n"


if __name__ == "__main__":
    sys.exit(main())

"""Run-to-run spread of the headline: `python -m bench.spread`.

Two runs of a scenario and seed start the same payments (the same keys, people, amounts and
intended starts) and draw the same seeded faults; they differ only by timing. This runs
steady and flash-sale five times each, one after the other, and reports the spread of the
numbers a remedy is judged on: success rate, p99, attempts per payment, had-credit failures
and ghost charges. A remedy's effect smaller than this spread is not an effect. It also
checks the premise: every repeat started the same payment keys.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.common import finished_run, print_section, python
from bench.report import Row, Section
from contract.lines import read_lines

SCENARIOS = ("steady", "flash-sale")
REPEATS = 5


@dataclass(frozen=True)
class Repeat:
    summary: dict[str, Any]
    people: dict[str, tuple[Any, ...]]  # each payment's key: who, where, how much, when
    wall_s: float


@dataclass(frozen=True)
class Measure:
    label: str
    get: Callable[[dict[str, Any]], float | None]
    show: Callable[[float], str]


MEASURES = (
    Measure("success rate", lambda s: s.get("success_rate"), lambda v: f"{100 * v:.2f} %"),
    Measure("p99", lambda s: (s.get("latency_ms") or {}).get("p99"), lambda v: f"{v:,.0f} ms"),
    Measure("attempts per payment", lambda s: s.get("attempts_per_payment"), lambda v: f"{v:.3f}"),
    Measure("had-credit failures", lambda s: s.get("had_credit_failures"), lambda v: f"{v:,.0f}"),
    Measure("ghost charges", lambda s: s.get("ghost_charges"), lambda v: f"{v:,.0f}"),
)


def repeat(name: str, n: int, work: Path, speed: float | None) -> Repeat:
    out = work / f"{name}-{n}"
    argv = [python(), "-m", "paystorm", "run", name, "--out", str(out)]
    if speed is not None:
        argv += ["--speed", f"{speed:g}"]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    wall = time.monotonic() - started
    return read_repeat(out, f"spread, {name} #{n}", proc.stdout + proc.stderr, wall)


def read_repeat(out: Path, what: str, output: str = "", wall_s: float = 0.0) -> Repeat:
    folder = finished_run(out, what, output)
    people = {
        p.key: (p.type, p.network, p.user_id, p.merchant_id, p.amount, p.city, p.start_s)
        for p in read_lines(folder.payments)
        if not p.is_refund
    }
    return Repeat(json.loads(folder.summary.read_bytes()), people, wall_s)


def same_payments(runs: Sequence[Repeat]) -> Row:
    """The premise: a key every repeat started is the same person, shop, basket and intended
    start in each. A key only some started was an arrival the generator turned away in the
    others, or a refunder who bought instead because nothing was refundable yet: timing."""
    shared = set(runs[0].people).intersection(*(r.people for r in runs[1:]))
    union = set(runs[0].people).union(*(r.people for r in runs[1:]))
    alike = all(len({r.people[k] for r in runs}) == 1 for k in shared)
    dropped = statistics.mean(float(r.summary.get("dropped") or 0) for r in runs)
    return Row(
        figure="the same payments every repeat",
        measured=f"{len(shared):,} payment keys started in every repeat, of {len(union):,} in "
        "any; "
        + ("each the same person, shop, amount and start" if alike else "some of them differ")
        + f"; {dropped:,.0f} arrivals dropped per repeat on average",
        baseline="repeat 1",
        ratio=len(shared) / len(union) if union else None,
        target="shared keys identical",
        passed=alike and bool(shared),
    )


def spread(values: Sequence[float], show: Callable[[float], str]) -> str:
    """Mean ± sample standard deviation, and the range."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    low, high = show(min(values)), show(max(values))
    return f"{show(statistics.mean(values))} ± {show(sd)} (range {low} to {high})"


def section(quick: bool, work: Path) -> Section:
    repeats = 3 if quick else REPEATS
    speed = 2.0 if quick else None
    started = time.monotonic()
    runs = {
        name: [repeat(name, n, work, speed) for n in range(1, repeats + 1)] for name in SCENARIOS
    }
    s = build(runs, speed, quick)
    s.wall_s = time.monotonic() - started
    return s


def build(runs: Mapping[str, Sequence[Repeat]], speed: float | None, quick: bool) -> Section:
    """The block, from each scenario's repeats."""
    repeats = min(len(r) for r in runs.values())
    s = Section(
        name="spread",
        title="Run-to-run spread of the headline (same scenario, same seed)",
        conditions=(
            f"`paystorm run` of each scenario {repeats} times in a row"
            + (f" at `--speed {speed:g}`" if speed else "")
            + ", each with its own embedded gateway; the default population seed. The machine "
            "is shared (other work runs beside the benchmark): the spread includes its noise, "
            "as any comparison made on it would. Spread: mean ± sample standard deviation "
            "(range)."
        ),
        quick=quick,
    )
    for name, repeated in runs.items():
        premise = same_payments(repeated)
        s.rows.append(replace(premise, figure=f"{name}: {premise.figure}"))
        for m in MEASURES:
            values = [v for v in (m.get(r.summary) for r in repeated) if v is not None]
            if len(values) < len(repeated):
                continue
            s.rows.append(
                Row(
                    figure=f"{name}: {m.label}",
                    measured=spread([float(v) for v in values], m.show),
                    baseline="—",
                    ratio=None,
                    target="reported",
                    passed=None,
                )
            )
        rates = ", ".join(f"{100 * (r.summary.get('success_rate') or 0):.2f} %" for r in repeated)
        said = f"{name}: success rate of each repeat {rates}"
        if all(r.wall_s for r in repeated):
            said += "; wall time " + ", ".join(f"{r.wall_s:.0f} s" for r in repeated)
        s.details.append(said + ".")
    return s


if __name__ == "__main__":
    sys.exit(print_section("spread", __doc__, section, "3 repeats at --speed 2 instead of 5"))

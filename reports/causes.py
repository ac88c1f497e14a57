"""Had-credit failures by cause: over time (the stacked chart) and as a table.

Counts come from `payments.jsonl` when present (had-credit payments that did not succeed, by
final code and start second); without it, from the `code_<CODE>` columns of `outcomes.csv`,
which also count payments whose user lacked credit (the summary says the same).
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from contract import runfolder
from reports import wording
from reports.model import FloatArray, Run

# Buckets of one second up to this run length; longer runs get about BUCKETS buckets.
ONE_SECOND_UP_TO_S = 300
BUCKETS = 200
_NICE_S = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600)


@dataclass(frozen=True, slots=True)
class CausesOverTime:
    """Had-credit failures per second of intended start, per cause, in time buckets.

    `per_s[i, j]` is the mean rate (payments/s) of `codes[i]` over bucket j, which starts at
    `time[j]`; codes are ordered by total, most first.
    """

    bucket_s: int
    time: FloatArray
    codes: tuple[str, ...]
    per_s: FloatArray
    source: str


@dataclass(frozen=True, slots=True)
class CauseRow:
    code: str
    payments: int
    share: float  # of all had-credit failures
    in_faults: int  # of them, started in a second that a fault window overlaps
    peak_per_s: int  # the most in one second
    first_s: int
    last_s: int
    meaning: str


def bucket_width(end_s: float) -> int:
    """1 s for runs up to 300 s, else the smallest round width giving at most 200 buckets."""
    if end_s <= ONE_SECOND_UP_TO_S:
        return 1
    raw = end_s / BUCKETS
    return next((w for w in _NICE_S if w >= raw), _NICE_S[-1])


def per_second_by_code(run: Run) -> tuple[dict[str, dict[int, int]], str]:
    """{code: {second: count}} of had-credit failures, and where the counts came from."""
    found: dict[str, dict[int, int]] = defaultdict(dict)
    if run.payments is not None:
        for (second, code), n in run.payments.had_credit_failures_by_second.items():
            found[code][second] = n
        return dict(found), runfolder.PAYMENTS
    for s in run.seconds:
        for code, n in s.codes.items():
            found[code][s.time] = n
    return dict(found), runfolder.OUTCOMES


def causes_over_time(run: Run) -> CausesOverTime:
    by_code, source = per_second_by_code(run)
    totals = {code: sum(c.values()) for code, c in by_code.items()}
    codes = tuple(sorted(totals, key=lambda c: (-totals[c], c)))
    width = bucket_width(run.end_s)
    count = max(1, math.ceil(run.end_s / width))
    per_s = np.zeros((len(codes), count), dtype=np.float64)
    for i, code in enumerate(codes):
        for second, n in by_code[code].items():
            # A payment due before second 0 or after the end is kept at the nearest edge.
            per_s[i, min(max(second // width, 0), count - 1)] += n
    return CausesOverTime(
        bucket_s=width,
        time=np.arange(count, dtype=np.float64) * width,
        codes=codes,
        per_s=per_s / width,
        source=source,
    )


def cause_table(run: Run) -> tuple[CauseRow, ...]:
    """One row per cause, most payments first."""
    by_code, _ = per_second_by_code(run)
    total = sum(sum(c.values()) for c in by_code.values())

    @functools.cache
    def in_fault(second: int) -> bool:
        return bool(run.faults_during(second, second + 1))

    rows = [
        CauseRow(
            code=code,
            payments=sum(seconds.values()),
            share=sum(seconds.values()) / total,
            in_faults=sum(n for second, n in seconds.items() if in_fault(second)),
            peak_per_s=max(seconds.values()),
            first_s=min(seconds),
            last_s=max(seconds),
            meaning=wording.code_meaning(code),
        )
        for code, seconds in by_code.items()
        if seconds
    ]
    return tuple(sorted(rows, key=lambda r: (-r.payments, r.code)))

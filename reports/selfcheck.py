"""Every run checks itself before it reports: the raw files must add up to the summary.

The per-second counts (outcomes.csv) are kept by the recorder; the per-payment lines
(payments.jsonl) are written one by one as payments end; the ledger (ledger.jsonl) is the
gateway's own record; the fault windows (faults.json) are the gateway's clock. Each is a
witness of the others, so a number that one of them disagrees with is not reported as if it
held. Invariants, each named as it is reported:

- `offered = started + dropped`: in every second, the arrivals offered are the lines that
  started in it (payments and refunds) plus the arrivals dropped.
- `lines = payments`: payments.jsonl has one line per payment of outcomes.csv, second by
  second.
- `outcomes add up`: succeeded + declined + failed + unknown = payments, in every second and
  in the lines.
- `attempts add up`: the attempts column is the sum of each line's attempts.
- `ghost charges`: recomputed from ledger.jsonl and payments.jsonl, they are reconcile.json's.
- `fault windows inside the run`: every applied window starts and ends within the run.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contract import runfolder
from contract.lines import LineError, read_ledger_statuses
from contract.reconcile import CHARGED
from reports.model import OUTCOMES, Run

WINDOW_SLACK_S = 1.0  # the gateway's clock against the run's: a fault posted at second 0
EXAMPLES = 3  # seconds named per violated invariant


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: str
    detail: str

    def line(self) -> str:
        return f"{self.invariant}: {self.detail}"


def _seconds_named(bad: list[str]) -> str:
    more = f" (and {len(bad) - EXAMPLES} more)" if len(bad) > EXAMPLES else ""
    return "; ".join(bad[:EXAMPLES]) + more


def _lines_by_second(run: Run) -> tuple[Counter[int], Counter[int]]:
    """Payment lines and refund lines per start second (negative starts in second 0, as the
    recorder buckets them)."""
    payments: Counter[int] = Counter()
    if run.payments is not None:
        seconds = np.maximum(np.floor(run.payments.start_s), 0).astype(np.int64)
        keys, counts = np.unique(seconds, return_counts=True)
        payments.update({int(k): int(v) for k, v in zip(keys, counts, strict=True)})
    refunds: Counter[int] = Counter()
    if run.payments is not None:
        for second, n in run.payments.refunds_by_second.items():
            refunds[max(second, 0)] += n
    return payments, refunds


def _offered(run: Run, payments: Counter[int], refunds: Counter[int]) -> list[Violation]:
    bad = [
        f"second {s.time}: offered {s.offered}, started {payments[s.time] + refunds[s.time]}, "
        f"dropped {s.dropped}"
        for s in run.seconds
        if s.offered != payments[s.time] + refunds[s.time] + s.dropped
    ]
    return [Violation("offered = started + dropped", _seconds_named(bad))] if bad else []


def _lines(run: Run, payments: Counter[int]) -> list[Violation]:
    total = sum(s.payments for s in run.seconds)
    lines = run.payments.count if run.payments is not None else 0
    if lines != total:
        detail = f"payments.jsonl has {lines:,}, outcomes.csv {total:,}"
        return [Violation("lines = payments", detail)]
    recorded = {s.time for s in run.seconds}
    bad = [
        f"second {s.time}: {payments[s.time]} lines, {s.payments} payments"
        for s in run.seconds
        if payments[s.time] != s.payments
    ] + [f"second {t}: {n} lines, no row" for t, n in sorted(payments.items()) if t not in recorded]
    return [Violation("lines = payments", _seconds_named(bad))] if bad else []


def _outcomes(run: Run) -> list[Violation]:
    bad = [
        f"second {s.time}: {s.succeeded} + {s.declined} + {s.failed} + {s.unknown} != {s.payments}"
        for s in run.seconds
        if s.succeeded + s.declined + s.failed + s.unknown != s.payments
    ]
    if run.payments is not None:
        for name in OUTCOMES:
            column = sum(getattr(s, name) for s in run.seconds)
            lines = run.payments.outcomes.get(name, 0)
            if column != lines:
                bad.append(f"{name}: {column:,} in outcomes.csv, {lines:,} lines")
    return [Violation("outcomes add up", _seconds_named(bad))] if bad else []


def _attempts(run: Run) -> list[Violation]:
    if run.payments is None:
        return []
    recorded = run.payments.attempts[run.payments.attempts >= 0]
    if recorded.size < run.payments.count:
        return []  # lines that do not say their attempts: nothing to add up
    column = sum(s.attempts for s in run.seconds)
    lines = int(recorded.sum())
    if column == lines:
        return []
    return [Violation("attempts add up", f"outcomes.csv {column:,}, the lines {lines:,}")]


def _ghost_count(ledger_path: Path, not_told_success: Iterable[int]) -> int:
    """The ghost charges again, by the same rule as the runner's reconciliation: payments the
    client was not told succeeded that the ledger shows charged. Held as hashes of keys: a
    one-hour run's million ledger rows as objects would cost the report most of a gigabyte.
    (Two keys sharing a 64-bit hash among a million: about one chance in thirty million.)"""
    charged = {hash(row.key) for row in read_ledger_statuses(ledger_path) if row.status in CHARGED}
    return sum(1 for key in not_told_success if key in charged)


def _ghosts(run: Run) -> list[Violation]:
    claimed = run.reconcile.ghost_charges if run.reconcile is not None else None
    if claimed is None:
        return []  # not cross-checked: the summary says so
    ledger_path, lines_path = run.path / runfolder.LEDGER, run.path / runfolder.PAYMENTS
    if not lines_path.is_file() or not ledger_path.is_file():
        if claimed == 0 and not lines_path.is_file():
            return []  # nothing was paid, nothing to charge
        missing = runfolder.LEDGER if not ledger_path.is_file() else runfolder.PAYMENTS
        detail = f"reconcile.json says {claimed:,}, but {missing} is not in the folder"
        return [Violation("ghost charges", detail)]
    try:
        log = run.payments
        hashes = None if log is None else log.not_told_success
        told: list[int] = [] if hashes is None else hashes.tolist()
        again = _ghost_count(ledger_path, told)
    except (OSError, LineError) as exc:
        return [Violation("ghost charges", f"cannot be recomputed: {exc}")]
    if again == claimed:
        return []
    detail = f"reconcile.json says {claimed:,}, ledger.jsonl and payments.jsonl give {again:,}"
    return [Violation("ghost charges", detail)]


def _windows(run: Run) -> list[Violation]:
    end = run.info.duration_s if run.info is not None else None
    if end is None:
        end = float(run.seconds[-1].time + 1) if run.seconds else math.inf
    bad = []
    for f in run.faults:
        ended = f.ended_at_s if f.ended_at_s is not None else f.started_at_s
        if f.started_at_s < -WINDOW_SLACK_S or ended > end + WINDOW_SLACK_S:
            shown = "open" if f.ended_at_s is None else f"{f.ended_at_s:g}"
            bad.append(f"{f.id} ({f.kind}) {f.started_at_s:g}..{shown} s, the run 0..{end:g} s")
    return [Violation("fault windows inside the run", _seconds_named(bad))] if bad else []


def check(run: Run) -> tuple[Violation, ...]:
    """Every invariant the run's files break (none: the numbers may be reported)."""
    payments, refunds = _lines_by_second(run)
    found: list[Violation] = []
    if (run.path / runfolder.PAYMENTS).is_file():  # without it the summary says what it lacks
        found += _offered(run, payments, refunds)
        found += _lines(run, payments)
    found += _outcomes(run)
    found += _attempts(run)
    found += _ghosts(run)
    found += _windows(run)
    return tuple(found)

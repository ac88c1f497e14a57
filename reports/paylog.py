"""Streaming reader for `payments.jsonl`: keeps a few numbers a payment, never the objects.

An hour-long run logs about a million payments; holding them as dicts would cost gigabytes,
so each line is parsed with orjson, reduced to what the report uses, and dropped.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from pathlib import Path

import numpy as np

from contract.codes import OUTCOMES
from contract.lines import LineError, read_lines
from reports.model import PaymentLog, RunError

_OUTCOME_INDEX = {name: i for i, name in enumerate(OUTCOMES)}
# A had-credit payment that failed without a final code: shown as such, never hidden.
NO_CODE = "NO_CODE"
NO_ATTEMPTS = -1  # the line did not say how many attempts it took
WEAK = "weak"  # a line's network when its person was on a weak mobile link


def read_payments(path: Path) -> PaymentLog:
    """Read the client's per-payment log, each line checked against its type (a truncated
    last line included). Refund lines are not payments: only their start second is counted.
    Blank lines are skipped."""
    latency = array("d")
    start = array("d")
    outcome_index = array("b")
    attempts = array("q")
    lateness = array("d")
    not_told = array("q")
    weak = array("b")
    had_credit = array("b")
    causes: Counter[str] = Counter()
    by_second: Counter[tuple[int, str]] = Counter()
    refunds: Counter[int] = Counter()
    nan = math.nan
    try:
        for line in read_lines(path):
            if line.is_refund:
                refunds[math.floor(line.start_s)] += 1
                continue
            index = _OUTCOME_INDEX[line.outcome]
            start.append(line.start_s)
            latency.append(nan if line.latency_ms is None else line.latency_ms)
            outcome_index.append(index)
            attempts.append(NO_ATTEMPTS if line.attempts is None else line.attempts)
            lateness.append(nan if line.lateness_ms is None else line.lateness_ms)
            weak.append(line.network == WEAK)
            had_credit.append(line.had_credit)
            if index != 0:
                not_told.append(hash(line.key))
            if line.had_credit and index != 0:
                code = line.code or NO_CODE
                causes[code] += 1
                by_second[(math.floor(line.start_s), code)] += 1
    except LineError as e:
        raise RunError(str(e)) from None
    except OSError as e:
        raise RunError(f"{path}: cannot read ({e.strerror})") from None
    outcomes = np.frombuffer(outcome_index, dtype=np.int8).astype(np.int64)
    counts = np.bincount(outcomes, minlength=len(OUTCOMES))
    return PaymentLog(
        count=len(start),
        latency_ms=np.frombuffer(latency, dtype=np.float64),
        start_s=np.frombuffer(start, dtype=np.float64),
        outcome=outcomes,
        attempts=np.frombuffer(attempts, dtype=np.int64),
        outcomes={name: int(c) for name, c in zip(OUTCOMES, counts, strict=True) if c},
        had_credit_failures_by_code=dict(causes.most_common()),
        had_credit_failures_by_second=dict(by_second),
        refunds_by_second=dict(refunds),
        lateness_ms=np.frombuffer(lateness, dtype=np.float64),
        not_told_success=np.frombuffer(not_told, dtype=np.int64),
        weak=np.frombuffer(weak, dtype=np.int8).astype(np.bool_),
        had_credit=np.frombuffer(had_credit, dtype=np.int8).astype(np.bool_),
    )

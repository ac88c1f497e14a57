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
import orjson

from reports.model import OUTCOMES, PaymentLog, RunError

_OUTCOME_INDEX = {name: i for i, name in enumerate(OUTCOMES)}
# A had-credit payment that failed without a final code: shown as such, never hidden.
NO_CODE = "NO_CODE"
NO_ATTEMPTS = -1  # the line did not say how many attempts it took


def _bad(path: Path, line: int, what: str) -> RunError:
    return RunError(f"{path} line {line}: {what}")


def _number(path: Path, n: int, name: str, value: object, *, nullable: bool = False) -> float:
    # bools are numbers to Python; a log that writes true for a time is malformed.
    if value is None and nullable:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(path, n, f"{name} must be a number, got {value!r}")
    return float(value)


def _late(path: Path, n: int, value: object) -> float:
    return math.nan if value is None else _number(path, n, "lateness_ms", value)


def read_payments(path: Path) -> PaymentLog:
    """Read the client's per-payment log.

    Each line needs `start_s` (number), `latency_ms` (number or null), `had_credit` (bool),
    `outcome` (succeeded, declined, failed, unknown) and, for failures, `code`; `attempts`
    (a whole number) is read when present; other fields are ignored. Refund lines (`type:
    refund`) are not payments: only their start second is counted. Blank lines are skipped;
    anything else that does not parse, a truncated last line included, is an error.
    """
    latency = array("d")
    start = array("d")
    outcome_index = array("b")
    attempts = array("q")
    lateness = array("d")
    causes: Counter[str] = Counter()
    by_second: Counter[tuple[int, str]] = Counter()
    refunds: Counter[int] = Counter()
    loads, index_of = orjson.loads, _OUTCOME_INDEX.get
    try:
        with path.open("rb") as f:
            for n, raw in enumerate(f, 1):
                try:
                    obj = loads(raw)
                except orjson.JSONDecodeError as e:
                    if raw.isspace():
                        continue
                    raise _bad(path, n, f"not valid JSON ({e.msg})") from None
                if type(obj) is not dict:
                    raise _bad(path, n, "expected a JSON object")
                if obj.get("type") == "refund":
                    # A refunder's line: counted in outcomes.csv, not a payment.
                    when = obj.get("start_s")
                    if type(when) is not float:
                        when = _number(path, n, "start_s", when)
                    refunds[math.floor(when)] += 1
                    continue
                try:
                    start_s = obj["start_s"]
                    latency_ms = obj["latency_ms"]
                    had_credit = obj["had_credit"]
                    outcome = obj["outcome"]
                except KeyError as e:
                    raise _bad(path, n, f"missing field {e.args[0]!r}") from None
                index = index_of(outcome) if type(outcome) is str else None
                if index is None:
                    raise _bad(path, n, f"unknown outcome {outcome!r}")
                if had_credit is not True and had_credit is not False:
                    raise _bad(path, n, f"had_credit must be true or false, got {had_credit!r}")
                # The common case is checked by exact type: cheap on a million lines.
                if type(start_s) is not float:
                    start_s = _number(path, n, "start_s", start_s)
                if type(latency_ms) is not float:
                    latency_ms = _number(path, n, "latency_ms", latency_ms, nullable=True)
                tries = obj.get("attempts")
                if tries is None:
                    tries = NO_ATTEMPTS
                elif type(tries) is not int or tries < 0:
                    raise _bad(path, n, f"attempts must be a whole number, got {tries!r}")
                start.append(start_s)
                latency.append(latency_ms)
                outcome_index.append(index)
                attempts.append(tries)
                late = obj.get("lateness_ms")
                lateness.append(late if type(late) is float else _late(path, n, late))
                if had_credit and index != 0:
                    code = obj.get("code")
                    code = code if type(code) is str and code else NO_CODE
                    causes[code] += 1
                    by_second[(math.floor(start_s), code)] += 1
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
    )

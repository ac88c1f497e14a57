"""Streaming reader for `payments.jsonl`: keeps two floats a payment, never the objects.

An hour-long run logs about a million payments; holding them as dicts would cost gigabytes,
so each line is parsed with orjson, reduced to what the report uses, and dropped.
"""

from __future__ import annotations

from array import array
from collections import Counter
from pathlib import Path

import numpy as np
import orjson

from reports.model import PaymentLog, RunError

OUTCOMES = frozenset({"succeeded", "declined", "failed", "unknown"})
# A had-credit payment that failed without a final code: shown as such, never hidden.
NO_CODE = "NO_CODE"


def _bad(path: Path, line: int, what: str) -> RunError:
    return RunError(f"{path} line {line}: {what}")


def read_payments(path: Path) -> PaymentLog:
    """Read the client's per-payment log.

    Each line needs `start_s` (number), `latency_ms` (number or null), `had_credit` (bool),
    `outcome` (succeeded, declined, failed, unknown) and, for failures, `code`; other fields
    are ignored. Blank lines are skipped; anything else that does not parse is an error.
    """
    latency = array("d")
    start = array("d")
    outcomes: Counter[str] = Counter()
    causes: Counter[str] = Counter()
    nan = float("nan")
    try:
        with path.open("rb") as f:
            for n, raw in enumerate(f, 1):
                if raw.isspace():
                    continue
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError as e:
                    raise _bad(path, n, f"not valid JSON ({e.msg})") from None
                if not isinstance(obj, dict):
                    raise _bad(path, n, "expected a JSON object")
                try:
                    start_s = obj["start_s"]
                    latency_ms = obj["latency_ms"]
                    had_credit = obj["had_credit"]
                    outcome = obj["outcome"]
                except KeyError as e:
                    raise _bad(path, n, f"missing field {e.args[0]!r}") from None
                if outcome not in OUTCOMES:
                    raise _bad(path, n, f"unknown outcome {outcome!r}")
                if had_credit is not True and had_credit is not False:
                    raise _bad(path, n, f"had_credit must be true or false, got {had_credit!r}")
                # array("d").append raises TypeError for anything but a number; bools are
                # numbers to Python, so they are refused here.
                if isinstance(start_s, bool) or isinstance(latency_ms, bool):
                    raise _bad(path, n, "start_s and latency_ms must be numbers")
                try:
                    start.append(start_s)
                except TypeError:
                    raise _bad(path, n, f"start_s must be a number, got {start_s!r}") from None
                try:
                    latency.append(nan if latency_ms is None else latency_ms)
                except TypeError:
                    raise _bad(
                        path, n, f"latency_ms must be a number, got {latency_ms!r}"
                    ) from None
                outcomes[outcome] += 1
                if had_credit and outcome != "succeeded":
                    code = obj.get("code")
                    causes[code if isinstance(code, str) and code else NO_CODE] += 1
    except OSError as e:
        raise RunError(f"{path}: cannot read ({e.strerror})") from None
    return PaymentLog(
        count=len(start),
        latency_ms=np.frombuffer(latency, dtype=np.float64),
        start_s=np.frombuffer(start, dtype=np.float64),
        outcomes=dict(outcomes),
        had_credit_failures_by_code=dict(causes.most_common()),
    )

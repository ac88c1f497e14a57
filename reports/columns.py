"""The columns of `outcomes.csv`: the recorder writes them, the report reads them."""

from __future__ import annotations

COUNT_COLUMNS = (
    "time",
    "users",
    "offered",
    "dropped",
    "payments",
    "had_credit",
    "had_credit_failed",
    "attempts",
    "succeeded",
    "declined",
    "failed",
    "unknown",
)
LATENCY_COLUMNS = ("p50_ms", "p95_ms", "p99_ms")
OUTCOME_COLUMNS = (*COUNT_COLUMNS, *LATENCY_COLUMNS)
CODE_PREFIX = "code_"  # then one column per failure code seen, e.g. code_SYSTEM_BUSY

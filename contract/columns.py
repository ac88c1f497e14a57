"""The run folder's CSV files: their columns and their one writer each (the recorder and the
sampler write through them, the report reads the same names)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

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
# Refunders' requests, beside the payments (absent from runs made before refunders existed).
REFUND_COLUMNS = ("refunds", "refunds_failed")
CODE_PREFIX = "code_"  # then one column per failure code seen, e.g. code_SYSTEM_BUSY

# The columns of `gateway_metrics.csv` the report reads (paystorm.sampler writes them; one
# row a second). `queued` and the per-channel families are optional: a chart shows what was
# sampled and says what was not.
GATEWAY_COLUMNS = (
    "inflight",  # requests admitted and being handled
    "queued",  # requests waiting for admission
    "shed_total",  # requests refused by load shedding, since start
    "requests_total",
    "payments_total",
    "commits_total",
    "rss_bytes",
    "cpu_seconds",  # user + system CPU since start
)
# Per-channel families: `<family>_<channel>`, e.g. breaker_bank_a. Breaker states are the
# gateway's paystorm_channel_breaker_state: 0 closed, 1 half-open, 2 open.
CHANNEL_FAMILIES = ("breaker", "channel_busy", "channel_waiting")
BREAKER_STATES = ("closed", "half-open", "open")


def write_outcomes(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """outcomes.csv: the fixed columns, then one `code_<CODE>` column per code seen, sorted.
    Written whole to a temporary file and moved, so a reader never sees half a file."""
    codes = sorted({k for r in rows for k in r if k.startswith(CODE_PREFIX)})
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*OUTCOME_COLUMNS, *REFUND_COLUMNS, *codes])
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


GATEWAY_TIME = "time"  # seconds of the run's clock


def write_gateway_metrics(path: Path, rows: Iterable[tuple[int, Mapping[str, float]]]) -> None:
    """gateway_metrics.csv: one row per second, the fixed columns, then the per-channel ones
    seen in any sample, sorted; a value not sampled that second is 0."""
    rows = list(rows)
    fixed = (GATEWAY_TIME, *GATEWAY_COLUMNS)
    extra = sorted({k for _, values in rows for k in values} - set(fixed))
    columns = [*GATEWAY_COLUMNS, *extra]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([GATEWAY_TIME, *columns])
        for second, values in rows:
            writer.writerow([second, *(round(values.get(c, 0.0), 3) for c in columns)])

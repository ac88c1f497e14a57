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

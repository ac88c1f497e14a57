"""The gateway's /metrics as one flat sample: the columns of `contract.columns.GATEWAY_COLUMNS`,
`open_fds`, then one value per channel and family (`breaker_bank_a`, `channel_busy_bank_a`,
`channel_waiting_bank_a`) and the requests each fault kind has shaped so far
(`faults_injected_latency`, …: counters since the gateway started). The runner's sampler
writes them to gateway_metrics.csv once a second; the web UI's live view shows the latest."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

_SUMS = {
    "paystorm_inflight_requests": "inflight",
    "paystorm_admission_queued": "queued",
    "paystorm_admission_shed": "shed_total",
    "paystorm_http_requests": "requests_total",
    "paystorm_payment_outcomes": "payments_total",
    "paystorm_ledger_commits": "commits_total",
    "process_resident_memory_bytes": "rss_bytes",
    "process_cpu_seconds": "cpu_seconds",
    "process_open_fds": "open_fds",  # files and sockets: flat in a soak, or something leaks
}
# Per-channel gauges and per-kind counters: one column each, named family_label.
_BY_LABEL = {
    "paystorm_channel_breaker_state": ("breaker", "channel"),
    "paystorm_channel_busy": ("channel_busy", "channel"),
    "paystorm_channel_waiting": ("channel_waiting", "channel"),
    "paystorm_faults_injected": ("faults_injected", "kind"),
}
INJECTED = "faults_injected_"
"""The prefix of the per-kind columns of requests shaped by faults."""


_WANTED = (*_SUMS, *_BY_LABEL)
_TYPE = "# TYPE "


def parse_sample(text: str) -> dict[str, float]:
    """The sample's values; families not listed here are never parsed (the request-duration
    histograms are most of the text, and the web UI reads a sample every second)."""
    values = dict.fromkeys(_SUMS.values(), 0.0)
    wanted = "\n".join(
        line
        for line in text.splitlines()
        if line.startswith(_WANTED) or (line.startswith(_TYPE) and line[7:].startswith(_WANTED))
    )
    for family in text_string_to_metric_families(wanted + "\n"):
        column = _SUMS.get(family.name)
        by_label = _BY_LABEL.get(family.name)
        if column is None and by_label is None:
            continue
        for sample in family.samples:
            if sample.name.endswith(("_created",)):
                continue
            if column is not None:
                values[column] += sample.value
            elif by_label is not None and by_label[1] in sample.labels:
                prefix, label = by_label
                values[f"{prefix}_{sample.labels[label]}"] = sample.value
    return values

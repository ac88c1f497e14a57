"""Samples the gateway's /metrics once a second into gateway_metrics.csv: the columns of
`contract.columns.GATEWAY_COLUMNS`, `open_fds`, then one column per channel and family
(`breaker_bank_a`, `channel_busy_bank_a`, `channel_waiting_bank_a`)."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from contract.columns import write_gateway_metrics

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
# Per-channel gauges: one column each, named family_channel.
_PER_CHANNEL = {
    "paystorm_channel_breaker_state": "breaker",
    "paystorm_channel_busy": "channel_busy",
    "paystorm_channel_waiting": "channel_waiting",
}


def parse_sample(text: str) -> dict[str, float]:
    values = dict.fromkeys(_SUMS.values(), 0.0)
    for family in text_string_to_metric_families(text):
        column = _SUMS.get(family.name)
        per_channel = _PER_CHANNEL.get(family.name)
        if column is None and per_channel is None:
            continue
        for sample in family.samples:
            if sample.name.endswith(("_created",)):
                continue
            if column is not None:
                values[column] += sample.value
            elif "channel" in sample.labels:
                values[f"{per_channel}_{sample.labels['channel']}"] = sample.value
    return values


class MetricsSampler:
    def __init__(self, url: str) -> None:
        self._url = f"{url}/metrics"
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.time()
            try:
                with urllib.request.urlopen(self._url, timeout=2) as resp:
                    text = resp.read().decode("utf-8")
                self.samples.append((started, parse_sample(text)))
            except (OSError, ValueError):
                pass  # a missed sample is a gap in the chart, not a failed run
            self._stop.wait(max(0.0, 1.0 - (time.time() - started)))

    def write(self, path: Path, t0_unix: float) -> None:
        write_gateway_metrics(path, self._by_second(t0_unix))

    def _by_second(self, t0_unix: float) -> Iterator[tuple[int, dict[str, float]]]:
        seen: set[int] = set()
        for at, values in self.samples:
            second = round(at - t0_unix)  # one row per second of the run's clock
            if second < 0 or second in seen:
                continue
            seen.add(second)
            yield second, values

"""Samples the gateway's /metrics once a second into gateway_metrics.csv."""

from __future__ import annotations

import csv
import threading
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

COLUMNS = (
    "time",
    "inflight",
    "requests_total",
    "payments_total",
    "commits_total",
    "rss_bytes",
    "cpu_seconds",
)
_SUMS = {
    "paystorm_inflight_requests": "inflight",
    "paystorm_http_requests": "requests_total",
    "paystorm_payment_outcomes": "payments_total",
    "paystorm_ledger_commits": "commits_total",
    "process_resident_memory_bytes": "rss_bytes",
    "process_cpu_seconds": "cpu_seconds",
}


def parse_sample(text: str) -> dict[str, float]:
    values = dict.fromkeys(_SUMS.values(), 0.0)
    for family in text_string_to_metric_families(text):
        column = _SUMS.get(family.name)
        if column is None:
            continue
        for sample in family.samples:
            if sample.name.endswith(("_created",)):
                continue
            values[column] += sample.value
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
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            seen: set[int] = set()
            for at, values in self.samples:
                second = round(at - t0_unix)  # one row per second of the run's clock
                if second < 0 or second in seen:
                    continue
                seen.add(second)
                writer.writerow([second, *(round(values[c], 3) for c in COLUMNS[1:])])

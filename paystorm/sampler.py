"""Samples the gateway's /metrics once a second into gateway_metrics.csv: the columns of
`contract.columns.GATEWAY_COLUMNS`, `open_fds`, then one column per channel and family
(`breaker_bank_a`, `channel_busy_bank_a`, `channel_waiting_bank_a`)."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from contract.columns import write_gateway_metrics
from contract.gauges import parse_sample

__all__ = ["MetricsSampler", "parse_sample"]  # parse_sample: for the sampler's readers


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

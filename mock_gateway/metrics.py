"""The gateway's own Prometheus metrics (its channels and its ledger writer), beside what every
host of faults exposes (faults/metrics.py), in the app's registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from faults import FaultEngine
from faults.admission import Admission
from faults.metrics import CONTENT_TYPE_LATEST, AdmissionCollector, FaultCollector, Metrics
from mock_gateway.channels import Router
from mock_gateway.writer import WriterStats

__all__ = ["CONTENT_TYPE_LATEST", "GatewayState", "Metrics", "watch_gateway", "watch_writer"]


def watch_writer(metrics: Metrics, stats: Callable[[], WriterStats]) -> None:
    metrics.registry.register(_WriterCollector(stats))


def watch_gateway(metrics: Metrics, state: GatewayState) -> None:
    metrics.registry.register(AdmissionCollector(state.admission))
    metrics.registry.register(_ChannelCollector(state.router))
    metrics.registry.register(FaultCollector(state.faults))


@dataclass(frozen=True)
class GatewayState:
    admission: Admission
    router: Router
    faults: FaultEngine


class _ChannelCollector(Collector):
    """The payment channels, read at scrape time."""

    def __init__(self, router: Router) -> None:
        self._router = router

    def collect(self) -> Iterator[Metric]:
        busy = GaugeMetricFamily(
            "paystorm_channel_busy", "Payments a channel is working on.", labels=["channel"]
        )
        waiting = GaugeMetricFamily(
            "paystorm_channel_waiting", "Payments waiting for a channel slot.", labels=["channel"]
        )
        breaker = GaugeMetricFamily(
            "paystorm_channel_breaker_state",
            "Circuit breaker: 0 closed, 1 half-open, 2 open.",
            labels=["channel"],
        )
        for name, channel in self._router.channels.items():
            busy.add_metric([name], channel.busy)
            waiting.add_metric([name], channel.waiting)
            breaker.add_metric([name], int(channel.breaker.state))
        yield busy
        yield waiting
        yield breaker


class _WriterCollector(Collector):
    """Reads the writer's own counters at scrape time: nothing is added to the commit path."""

    def __init__(self, stats: Callable[[], WriterStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self._stats()
        yield CounterMetricFamily(
            "paystorm_ledger_commits",
            "Ledger transactions committed (group commits).",
            value=s.commits,
        )
        yield CounterMetricFamily(
            "paystorm_ledger_committed_writes",
            "Request writes committed; divided by commits it is the mean batch size.",
            value=s.units,
        )
        yield GaugeMetricFamily(
            "paystorm_ledger_largest_batch",
            "Most request writes in one commit so far.",
            value=s.largest_batch,
        )

"""Prometheus metrics in a registry of the app's own (no process globals)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from mock_gateway.admission import Admission
from mock_gateway.channels import Router
from mock_gateway.faults import REGISTRY, FaultEngine
from mock_gateway.writer import WriterStats

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_LATENCY_BUCKETS_S = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    inflight: Gauge
    payments: Counter

    @classmethod
    def create(cls) -> Metrics:
        reg = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=reg)  # memory, CPU and open files, read at scrape time
        return cls(
            registry=reg,
            requests=Counter(
                "paystorm_http_requests",
                "HTTP requests answered, by route and status.",
                ["route", "status"],
                registry=reg,
            ),
            latency=Histogram(
                "paystorm_http_request_duration_seconds",
                "Time from request received to response ready, by route.",
                ["route"],
                buckets=_LATENCY_BUCKETS_S,
                registry=reg,
            ),
            inflight=Gauge(
                "paystorm_inflight_requests", "Requests being handled right now.", registry=reg
            ),
            payments=Counter(
                "paystorm_payment_outcomes",
                "Outcomes of POST /v1/payments by code (OK for success), replays excluded.",
                ["code"],
                registry=reg,
            ),
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def watch_writer(self, stats: Callable[[], WriterStats]) -> None:
        self.registry.register(_WriterCollector(stats))

    def watch_gateway(self, state: GatewayState) -> None:
        self.registry.register(_GatewayCollector(state))


@dataclass(frozen=True)
class GatewayState:
    admission: Admission
    router: Router
    faults: FaultEngine


class _GatewayCollector(Collector):
    """Admission, channels and faults, read at scrape time."""

    def __init__(self, state: GatewayState) -> None:
        self._s = state

    def collect(self) -> Iterator[Metric]:
        adm = self._s.admission
        limit, _ = adm.limits()
        yield GaugeMetricFamily(
            "paystorm_admission_inflight",
            "Requests admitted and being handled.",
            value=adm.inflight,
        )
        yield GaugeMetricFamily(
            "paystorm_admission_queued", "Requests waiting for admission.", value=adm.queued
        )
        yield GaugeMetricFamily(
            "paystorm_admission_limit",
            "Requests that may be handled at once (-1: no limit).",
            value=-1 if limit is None else limit,
        )
        yield CounterMetricFamily(
            "paystorm_admission_shed",
            "Requests refused with 503 SYSTEM_BUSY by load shedding.",
            value=adm.shed,
        )
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
        for name, channel in self._s.router.channels.items():
            busy.add_metric([name], channel.busy)
            waiting.add_metric([name], channel.waiting)
            breaker.add_metric([name], int(channel.breaker.state))
        yield busy
        yield waiting
        yield breaker
        active = GaugeMetricFamily(
            "paystorm_fault_active", "Faults active now, by kind.", labels=["kind"]
        )
        injected = CounterMetricFamily(
            "paystorm_faults_injected", "Requests a fault shaped, by kind.", labels=["kind"]
        )
        engine = self._s.faults
        for kind in sorted(REGISTRY):
            active.add_metric([kind], engine.active_count(kind))
            injected.add_metric([kind], engine.injected.get(kind, 0))
        yield active
        yield injected


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

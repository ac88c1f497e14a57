"""Prometheus metrics in a registry of the app's own (no process globals)."""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from faults import REGISTRY, FaultEngine
from mock_gateway.admission import Admission
from mock_gateway.channels import Router
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


class Recorder:
    """The per-request counters, as plain numbers: the request path only adds to them, and
    they become Prometheus families when scraped. prometheus_client's own labelled metrics
    take a lock and build a label tuple on every update, about 2 µs each, four per request."""

    __slots__ = ("_created", "_latency", "_outcomes", "_requests", "inflight")

    def __init__(self) -> None:
        self.inflight = 0
        self._requests: dict[tuple[str, int], int] = {}
        # Per route: a count per bucket (the last one +Inf), then the sum of seconds.
        self._latency: dict[str, tuple[list[int], list[float]]] = {}
        self._outcomes: dict[str, int] = {}
        self._created: dict[tuple[str, object], float] = {}

    def answered(self, route: str, status: int, seconds: float) -> None:
        key = (route, status)
        n = self._requests.get(key)
        if n is None:
            self._created[("requests", key)] = time.time()
            n = 0
        self._requests[key] = n + 1
        hist = self._latency.get(route)
        if hist is None:
            self._created[("latency", route)] = time.time()
            hist = self._latency[route] = ([0] * (len(_LATENCY_BUCKETS_S) + 1), [0.0])
        hist[0][bisect_left(_LATENCY_BUCKETS_S, seconds)] += 1  # le: v <= bucket
        hist[1][0] += seconds

    def outcome(self, code: str) -> None:
        n = self._outcomes.get(code)
        if n is None:
            self._created[("outcomes", code)] = time.time()
            n = 0
        self._outcomes[code] = n + 1

    def families(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "paystorm_http_requests",
            "HTTP requests answered, by route and status.",
            labels=["route", "status"],
        )
        for (route, status), n in list(self._requests.items()):
            created = self._created[("requests", (route, status))]
            requests.add_metric([route, str(status)], n, created=created)
        yield requests
        name = "paystorm_http_request_duration_seconds"
        latency = HistogramMetricFamily(
            name, "Time from request received to response ready, by route.", labels=["route"]
        )
        for route, (counts, total) in list(self._latency.items()):
            cumulative, buckets = 0, []
            for edge, n in zip((*_LATENCY_BUCKETS_S, math.inf), counts, strict=True):
                cumulative += n
                buckets.append((floatToGoString(edge), float(cumulative)))  # type: ignore[no-untyped-call]
            latency.add_metric([route], buckets, total[0])
            created = self._created[("latency", route)]
            latency.samples.append(Sample(f"{name}_created", {"route": route}, created))
        yield latency
        yield GaugeMetricFamily(
            "paystorm_inflight_requests", "Requests being handled right now.", value=self.inflight
        )
        outcomes = CounterMetricFamily(
            "paystorm_payment_outcomes",
            "Outcomes of POST /v1/payments by code (OK for success), replays excluded.",
            labels=["code"],
        )
        for code, n in list(self._outcomes.items()):
            outcomes.add_metric([code], n, created=self._created[("outcomes", code)])
        yield outcomes


class _RecorderCollector(Collector):
    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def collect(self) -> Iterator[Metric]:
        return self._recorder.families()


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    http: Recorder

    @classmethod
    def create(cls) -> Metrics:
        reg = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=reg)  # memory, CPU and open files, read at scrape time
        recorder = Recorder()
        reg.register(_RecorderCollector(recorder))
        return cls(registry=reg, http=recorder)

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

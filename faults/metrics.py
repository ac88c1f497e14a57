"""Prometheus metrics every host of faults exposes (the mock gateway, the fault proxy): the HTTP
requests answered, admission, and the faults active and injected; read at scrape time from
plain counters, in a registry of the host's own."""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Iterator
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

from faults.admission import Admission
from faults.engine import FaultEngine
from faults.kind import REGISTRY

__all__ = ["CONTENT_TYPE_LATEST", "AdmissionCollector", "FaultCollector", "Metrics", "Recorder"]

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
            self._created[("duration", route)] = time.time()
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
            created = self._created[("duration", route)]
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


class RecorderCollector(Collector):
    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def collect(self) -> Iterator[Metric]:
        return self._recorder.families()


class AdmissionCollector(Collector):
    """Admission control, read at scrape time."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission

    def collect(self) -> Iterator[Metric]:
        adm = self._admission
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


class FaultCollector(Collector):
    """The faults active now and the requests they shaped, by kind, read at scrape time."""

    def __init__(self, engine: FaultEngine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        active = GaugeMetricFamily(
            "paystorm_fault_active", "Faults active now, by kind.", labels=["kind"]
        )
        injected = CounterMetricFamily(
            "paystorm_faults_injected", "Requests a fault shaped, by kind.", labels=["kind"]
        )
        engine = self._engine
        for kind in sorted(REGISTRY):
            active.add_metric([kind], engine.active_count(kind))
            injected.add_metric([kind], engine.injected.get(kind, 0))
        yield active
        yield injected


@dataclass(frozen=True)
class Metrics:
    """A host's registry: the process, its HTTP requests, and what it adds with `watch`."""

    registry: CollectorRegistry
    http: Recorder

    @classmethod
    def create(cls) -> Metrics:
        reg = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=reg)  # memory, CPU and open files, read at scrape time
        recorder = Recorder()
        reg.register(RecorderCollector(recorder))
        return cls(registry=reg, http=recorder)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

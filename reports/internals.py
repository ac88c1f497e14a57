"""The gateway's internals over time, from `gateway_metrics.csv`: admission (in flight,
queued, shed), channels (busy, breaker state) and the process (CPU, memory)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from reports.model import FloatArray, GatewayMetrics, Run


@dataclass(frozen=True, slots=True)
class BreakerSpan:
    """A stretch of seconds a channel's breaker was not closed (1 half-open, 2 open)."""

    channel: str
    state: int
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Internals:
    """Series over `time` (seconds since start); None or empty where nothing was sampled.

    Rates come from the sampled counters: the difference between samples over the seconds
    between them (NaN across a gap or a counter reset).
    """

    time: FloatArray
    inflight: FloatArray | None
    queued: FloatArray | None
    shed_per_s: FloatArray | None
    requests_per_s: FloatArray | None
    cpu_pct: FloatArray | None
    rss_mib: FloatArray | None
    channel_busy: Mapping[str, FloatArray]
    breakers: Mapping[str, FloatArray]
    breaker_spans: tuple[BreakerSpan, ...]
    not_sampled: tuple[str, ...]


def _values(metrics: GatewayMetrics, name: str) -> FloatArray | None:
    column = metrics.columns.get(name)
    if column is None:
        return None
    return np.array([np.nan if v is None else v for v in column], dtype=np.float64)


def rate(time: FloatArray, counter: FloatArray | None) -> FloatArray | None:
    """Per-second rate of a monotonic counter; the first sample has none."""
    if counter is None:
        return None
    out = np.full(counter.shape, np.nan)
    if counter.size > 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.diff(counter) / np.diff(time)
        step[step < 0] = np.nan  # a restarted gateway resets its counters
        out[1:] = step
    return out


def breaker_spans(
    time: Sequence[float], states: Mapping[str, FloatArray]
) -> tuple[BreakerSpan, ...]:
    """Runs of equal non-closed state; a sample holds until the next one (one second)."""
    spans = []
    for channel, values in states.items():
        start: float | None = None
        current = 0
        for t, v in zip(time, values, strict=True):
            state = 0 if np.isnan(v) else int(v)
            if state != current:
                if current:
                    assert start is not None
                    spans.append(BreakerSpan(channel, current, start, t))
                start, current = t, state
        if current and start is not None:
            spans.append(BreakerSpan(channel, current, start, float(time[-1]) + 1.0))
    return tuple(spans)


def gateway_internals(run: Run) -> Internals | None:
    """None when the run has no gateway_metrics.csv."""
    metrics = run.gateway
    if metrics is None:
        return None
    time = np.array(metrics.time, dtype=np.float64)
    cpu = rate(time, _values(metrics, "cpu_seconds"))
    rss = _values(metrics, "rss_bytes")

    def family(name: str) -> dict[str, FloatArray]:
        return {
            channel: np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            for channel, values in sorted(metrics.channels.get(name, {}).items())
        }

    breakers = family("breaker")
    wanted = {
        "queued": "admission queue",
        "shed_total": "requests shed",
        "cpu_seconds": "CPU",
        "rss_bytes": "memory",
    }
    missing = [label for column, label in wanted.items() if column not in metrics.columns]
    missing += [
        label
        for name, label in (("channel_busy", "channel occupancy"), ("breaker", "breaker states"))
        if not metrics.channels.get(name)
    ]
    return Internals(
        time=time,
        inflight=_values(metrics, "inflight"),
        queued=_values(metrics, "queued"),
        shed_per_s=rate(time, _values(metrics, "shed_total")),
        requests_per_s=rate(time, _values(metrics, "requests_total")),
        cpu_pct=None if cpu is None else 100.0 * cpu,
        rss_mib=None if rss is None else rss / 2**20,
        channel_busy=family("channel_busy"),
        breakers=breakers,
        breaker_spans=breaker_spans(tuple(float(t) for t in time), breakers),
        not_sampled=tuple(missing),
    )

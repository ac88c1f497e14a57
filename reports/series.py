"""The numbers behind the charts, as pure functions of a run (tested without drawing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reports.model import FloatArray, Run


@dataclass(frozen=True, slots=True)
class LoadPoint:
    """One second on the success-vs-load chart; rates in percent, None when undefined."""

    time: int
    offered: int
    success_pct: float | None
    failed_pct: float | None
    unknown_pct: float | None
    fault: str | None


@dataclass(frozen=True, slots=True)
class FaultSpan:
    """A fault window clipped to the run, ready to shade."""

    kind: str
    start_s: float
    end_s: float
    open_ended: bool


@dataclass(frozen=True, slots=True)
class Timeline:
    """Per-second series for the timeline chart; NaN marks a second with nothing to show."""

    time: FloatArray
    offered: FloatArray
    succeeded: FloatArray
    dropped: FloatArray
    success_pct: FloatArray
    p50_ms: FloatArray
    p95_ms: FloatArray
    p99_ms: FloatArray


def _pct(rate: float | None) -> float | None:
    return None if rate is None else 100.0 * rate


def fault_label(run: Run, time: int) -> str | None:
    """The kinds of fault active during second `time`, joined by " + "; None when none was."""
    kinds = sorted({f.kind for f in run.faults_during(time, time + 1)})
    return " + ".join(kinds) if kinds else None


def load_points(run: Run) -> tuple[LoadPoint, ...]:
    """One point per second in which payments were offered.

    success = 1 - had_credit_failed / had_credit; failed = failed / payments;
    unknown = unknown / payments.
    """
    return tuple(
        LoadPoint(
            time=s.time,
            offered=s.offered,
            success_pct=_pct(s.success_rate),
            failed_pct=_pct(s.failed_rate),
            unknown_pct=_pct(s.unknown_rate),
            fault=fault_label(run, s.time),
        )
        for s in run.seconds
        if s.offered > 0
    )


def fault_spans(run: Run) -> tuple[FaultSpan, ...]:
    """Fault windows clipped to [0, end of run]; a window still open at the end runs to it."""
    end = run.end_s
    spans = []
    for f in run.faults:
        stop = f.ended_at_s if f.ended_at_s is not None else end
        start = max(0.0, f.started_at_s)
        if end > 0:
            stop = min(stop, end)
        if stop > start:
            spans.append(FaultSpan(f.kind, start, stop, f.ended_at_s is None))
    return tuple(spans)


def _array(values: Sequence[float | None]) -> FloatArray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def timeline(run: Run) -> Timeline:
    """Per-second offered, achieved (succeeded) and dropped payments/s, success %, latency."""
    s = run.seconds
    return Timeline(
        time=_array([x.time for x in s]),
        offered=_array([x.offered for x in s]),
        succeeded=_array([x.succeeded for x in s]),
        dropped=_array([x.dropped for x in s]),
        success_pct=_array([_pct(x.success_rate) for x in s]),
        p50_ms=_array([x.p50_ms for x in s]),
        p95_ms=_array([x.p95_ms for x in s]),
        p99_ms=_array([x.p99_ms for x in s]),
    )

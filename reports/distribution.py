"""Latency distribution and attempts per payment (retry amplification), as numbers.

Both need the per-payment log; the attempts-per-payment rate over time comes from
`outcomes.csv` (attempts / payments of each second) and so survives without it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from reports.latency import exact_quantiles
from reports.model import OUTCOMES, FloatArray, IntArray, Run

BINS_PER_DECADE = 10
# Attempts of this many or more share the last bar.
ATTEMPTS_CAP = 10


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    """Payments by latency on log-spaced bins (`edges_ms`, one more than each count array),
    split by outcome; `no_latency` payments had none recorded."""

    edges_ms: FloatArray
    counts: Mapping[str, IntArray]
    quantiles: Mapping[str, float | None]
    no_latency: int


@dataclass(frozen=True, slots=True)
class AttemptsHistogram:
    """Payments by attempts made: `attempts[i]` attempts for `payments[i]` payments; the last
    bar counts ATTEMPTS_CAP or more when `capped`. `unrecorded`: lines without attempts."""

    attempts: tuple[int, ...]
    payments: tuple[int, ...]
    capped: bool
    mean: float | None
    unrecorded: int


@dataclass(frozen=True, slots=True)
class Amplification:
    """Attempts per payment in each second (NaN for a second without payments)."""

    time: FloatArray
    attempts_per_payment: FloatArray
    overall: float | None


def log_edges(low: float, high: float) -> FloatArray:
    """Bin edges, BINS_PER_DECADE per decade, on whole decades covering [low, high]."""
    first = math.floor(math.log10(low))
    last = max(math.ceil(math.log10(high)), first + 1)
    return np.logspace(first, last, (last - first) * BINS_PER_DECADE + 1)


def latency_histogram(run: Run) -> LatencyHistogram | None:
    """None without a per-payment log or without a single positive latency."""
    if run.payments is None:
        return None
    latency = run.payments.latency_ms
    known = np.isfinite(latency)
    positive = latency[known & (latency > 0)]
    if positive.size == 0:
        return None
    edges = log_edges(float(positive.min()), float(positive.max()))
    # A latency of 0 ms (below the first edge) is counted in the first bin.
    clipped = np.clip(latency, edges[0], edges[-1])
    counts: dict[str, IntArray] = {}
    for index, name in enumerate(OUTCOMES):
        chosen = clipped[known & (run.payments.outcome == index)]
        if chosen.size:
            counts[name] = np.histogram(chosen, bins=edges)[0].astype(np.int64)
    return LatencyHistogram(
        edges_ms=edges,
        counts=counts,
        quantiles=exact_quantiles(latency),
        no_latency=int((~known).sum()),
    )


def attempts_histogram(run: Run) -> AttemptsHistogram | None:
    """None without a per-payment log or when no line recorded its attempts."""
    if run.payments is None:
        return None
    attempts = run.payments.attempts
    recorded = attempts[attempts >= 0]
    if recorded.size == 0:
        return None
    counts = np.bincount(np.minimum(recorded, ATTEMPTS_CAP))
    low = 0 if counts[0] else 1
    return AttemptsHistogram(
        attempts=tuple(range(low, len(counts))),
        payments=tuple(int(c) for c in counts[low:]),
        capped=bool(recorded.max() >= ATTEMPTS_CAP),
        mean=float(recorded.mean()),
        unrecorded=int(attempts.size - recorded.size),
    )


def amplification(run: Run) -> Amplification:
    seconds = run.seconds
    attempts = np.array([s.attempts for s in seconds], dtype=np.float64)
    payments = np.array([s.payments for s in seconds], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(payments > 0, attempts / payments, np.nan)
    total = float(payments.sum())
    return Amplification(
        time=np.array([s.time for s in seconds], dtype=np.float64),
        attempts_per_payment=ratio,
        overall=float(attempts.sum()) / total if total else None,
    )

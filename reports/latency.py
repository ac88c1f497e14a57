"""Latency percentiles: exact from `payments.jsonl`, approximate from per-second rows.

Without the per-payment log only each second's p50/p95/p99 are known. The overall
distribution is then approximated by giving each second's payments a step distribution:
half at its p50, 45 % at its p95, 5 % at its p99 (its tail above p99 is unknown, so it sits
at p99). A quantile of that mixture is exact when every second has the same distribution
and errs high (never low) at the quantiles it was built from, which is the safe side for
a latency objective. The max is then the largest per-second p99, a lower bound.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from reports.model import FloatArray, Second

QUANTILES = (50.0, 95.0, 99.0)
# The share of a second's payments placed at its p50, p95 and p99.
_STEP_WEIGHTS = (0.50, 0.45, 0.05)


def exact_quantiles(latency_ms: FloatArray) -> dict[str, float | None]:
    """p50, p95, p99 and max of the finite latencies (linear interpolation); None when empty."""
    values = latency_ms[np.isfinite(latency_ms)]
    if values.size == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = (float(v) for v in np.percentile(values, QUANTILES))
    return {"p50": p50, "p95": p95, "p99": p99, "max": float(values.max())}


def approx_quantiles(seconds: Iterable[Second]) -> dict[str, float | None]:
    """p50, p95, p99 and max approximated from per-second percentiles (see module docstring)."""
    values: list[float] = []
    weights: list[float] = []
    for s in seconds:
        known = [v for v in (s.p50_ms, s.p95_ms, s.p99_ms) if v is not None]
        if s.payments == 0 or not known:
            continue
        # A missing percentile borrows the next one known above it, else the highest known.
        points = (s.p50_ms, s.p95_ms, s.p99_ms)
        for i, weight in enumerate(_STEP_WEIGHTS):
            above = [v for v in points[i:] if v is not None]
            values.append(above[0] if above else known[-1])
            weights.append(weight * s.payments)
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = weighted_quantiles(values, weights, [q / 100 for q in QUANTILES])
    return {"p50": p50, "p95": p95, "p99": p99, "max": max(values)}


def weighted_quantiles(
    values: Sequence[float], weights: Sequence[float], qs: Sequence[float]
) -> list[float]:
    """The smallest value whose cumulative weight reaches each q (0..1) of the total."""
    order = np.argsort(np.asarray(values, dtype=np.float64), kind="stable")
    sorted_values = np.asarray(values, dtype=np.float64)[order]
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64)[order])
    total = float(cumulative[-1])
    # A relative tolerance keeps q = 0.5 of an exact half on the lower value.
    found = np.searchsorted(cumulative, [q * total * (1 - 1e-12) for q in qs], side="left")
    return [float(sorted_values[min(int(i), len(sorted_values) - 1)]) for i in found]

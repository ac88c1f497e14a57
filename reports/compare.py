"""Several runs side by side: labels, the table of deltas, and the numbers behind the
overlaid charts (reports.compare_charts). Pure functions of already loaded runs.

The first run is the baseline: every delta is another run's value minus the first's. Rates
differ in percentage points, latencies and counts in their own unit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reports import wording
from reports.causes import per_second_by_code
from reports.distribution import ATTEMPTS_CAP
from reports.model import FloatArray, Run
from reports.summary import summarize

CDF_POINTS = 401  # quantiles drawn per latency curve: smooth, and small for a million payments


@dataclass(frozen=True, slots=True)
class Compared:
    label: str
    run: Run
    summary: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Measure:
    name: str
    unit: str  # share, ms, count, per_s, ratio
    better: str  # higher, lower
    value: Callable[[Mapping[str, Any]], float | None]


@dataclass(frozen=True, slots=True)
class DeltaRow:
    """One measure across the runs; `deltas[0]` is None (the baseline)."""

    name: str
    unit: str
    better: str
    values: tuple[float | None, ...]
    deltas: tuple[float | None, ...]


def _get(*path: str) -> Callable[[Mapping[str, Any]], float | None]:
    def value(summary: Mapping[str, Any]) -> float | None:
        node: Any = summary
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        return None if node is None else float(node)

    return value


MEASURES = (
    Measure("success rate", "share", "higher", _get("success_rate")),
    Measure(
        "success rate in fault windows",
        "share",
        "higher",
        _get("fault_windows", "inside", "success_rate"),
    ),
    Measure(
        "success rate outside fault windows",
        "share",
        "higher",
        _get("fault_windows", "outside", "success_rate"),
    ),
    Measure("had-credit failures", "count", "lower", _get("had_credit_failures")),
    Measure("definite failures", "count", "lower", _get("failed")),
    Measure("unknown outcomes", "count", "lower", _get("unknown")),
    Measure("dropped arrivals", "share", "lower", _get("dropped_rate")),
    Measure("p50 latency", "ms", "lower", _get("latency_ms", "p50")),
    Measure("p95 latency", "ms", "lower", _get("latency_ms", "p95")),
    Measure("p99 latency", "ms", "lower", _get("latency_ms", "p99")),
    Measure("attempts per payment", "ratio", "lower", _get("attempts_per_payment")),
    Measure("knee", "per_s", "higher", _get("knee", "offered_per_s")),
    Measure("succeeded, mean", "per_s", "higher", _get("throughput", "mean_succeeded_per_s")),
    Measure("payments", "count", "", _get("payments")),
    Measure("ghost charges", "count", "lower", _get("ghost_charges")),
)


def labels_for(runs: Sequence[Run]) -> tuple[str, ...]:
    """Each run's scenario name; its folder name where two share a scenario; then a number."""
    names = [r.name for r in runs]
    labels = [r.path.name if names.count(r.name) > 1 else r.name for r in runs]
    return tuple(
        f"{label} #{i + 1}" if labels.count(label) > 1 else label for i, label in enumerate(labels)
    )


def compare(runs: Sequence[Run]) -> tuple[Compared, ...]:
    return tuple(
        Compared(label, run, summarize(run))
        for label, run in zip(labels_for(runs), runs, strict=True)
    )


def delta_rows(compared: Sequence[Compared]) -> tuple[DeltaRow, ...]:
    rows = []
    for m in MEASURES:
        values = tuple(m.value(c.summary) for c in compared)
        if all(v is None for v in values):
            continue  # e.g. ghost charges when no run checked them
        base = values[0]
        deltas = tuple(
            None if i == 0 or v is None or base is None else v - base for i, v in enumerate(values)
        )
        rows.append(DeltaRow(m.name, m.unit, m.better, values, deltas))
    return tuple(rows)


def value_text(unit: str, value: float | None) -> str:
    if unit == "share":
        return wording.pct(value)
    if unit == "ms":
        return wording.ms(value)
    if unit == "per_s":
        return wording.per_s(value)
    if unit == "ratio":
        return "n/a" if value is None else f"{value:.2f}"
    return wording.count(value)


def delta_text(unit: str, delta: float | None) -> str:
    """+21.5 pp for shares, +120 ms, +1,234, +0.85."""
    if delta is None:
        return "—"
    if unit == "share":
        return f"{100 * delta:+.2f} pp"
    if unit == "ms":
        return f"{delta:+,.0f} ms"
    if unit == "per_s":
        return f"{delta:+,.0f}/s"
    if unit == "ratio":
        return f"{delta:+.2f}"
    return f"{delta:+,.0f}"


def verdict_of(row: DeltaRow, index: int) -> str | None:
    """ "better", "worse" or None (no change, no baseline, or no direction)."""
    delta = row.deltas[index]
    if delta is None or not row.better or abs(delta) < 1e-12:
        return None
    return "better" if (delta > 0) == (row.better == "higher") else "worse"


def cause_shares(compared: Sequence[Compared]) -> tuple[tuple[str, ...], FloatArray]:
    """Had-credit failures by final code as a share (%) of each run's had-credit payments.

    Shares rather than counts, so runs of different lengths and rates compare; codes are
    ordered by their largest share in any run.
    """
    counts = []
    for c in compared:
        by_code, _ = per_second_by_code(c.run)
        counts.append({code: sum(seconds.values()) for code, seconds in by_code.items()})
    codes = sorted({code for found in counts for code in found})
    shares = np.zeros((len(codes), len(compared)), dtype=np.float64)
    for j, (c, found) in enumerate(zip(compared, counts, strict=True)):
        had_credit = c.summary.get("had_credit") or 0
        for i, code in enumerate(codes):
            shares[i, j] = 100.0 * found.get(code, 0) / had_credit if had_credit else 0.0
    order = sorted(range(len(codes)), key=lambda i: (-shares[i].max(), codes[i]))
    return tuple(codes[i] for i in order), shares[order] if codes else shares


def latency_cdf(run: Run) -> tuple[FloatArray, FloatArray] | None:
    """(latency in ms, share of payments at or below it, %) at CDF_POINTS quantiles."""
    if run.payments is None:
        return None
    latency = run.payments.latency_ms[np.isfinite(run.payments.latency_ms)]
    if latency.size == 0:
        return None
    shares = np.linspace(0.0, 100.0, CDF_POINTS)
    return np.percentile(latency, shares), shares


def attempt_shares(run: Run) -> tuple[FloatArray, FloatArray] | None:
    """(attempts 0..ATTEMPTS_CAP, share of payments with that many, %); the last is "or more".

    Payments whose line did not record attempts are left out.
    """
    if run.payments is None:
        return None
    attempts = run.payments.attempts[run.payments.attempts >= 0]
    if attempts.size == 0:
        return None
    counts = np.bincount(np.minimum(attempts, ATTEMPTS_CAP), minlength=ATTEMPTS_CAP + 1)
    return np.arange(ATTEMPTS_CAP + 1, dtype=np.float64), 100.0 * counts / attempts.size


def as_json(compared: Sequence[Compared], rows: Sequence[DeltaRow]) -> dict[str, Any]:
    """compare.json: the runs, their verdicts, and every measure with its deltas."""
    return {
        "baseline": compared[0].label,
        "runs": [
            {
                "label": c.label,
                "path": str(c.run.path),
                "scenario": c.summary.get("scenario"),
                "verdict": wording.verdict(c.summary),
                "slo_passed": c.summary.get("slo_passed"),
            }
            for c in compared
        ],
        "measures": [
            {
                "name": r.name,
                "unit": r.unit,
                "better": r.better or None,
                "values": list(r.values),
                "deltas": list(r.deltas),
            }
            for r in rows
        ],
    }

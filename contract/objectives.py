"""The objectives a scenario's `slo` may set, what each measures and which way it holds: the
report judges a finished run by them, the web UI's live view a run so far."""

from __future__ import annotations

from collections.abc import Mapping

# Each objective: its comparison and what it measures.
OBJECTIVES: Mapping[str, tuple[str, str]] = {
    "success_rate": (
        ">=",
        "success rate of the people with credit, dropped arrivals counted as not served",
    ),
    "p95_ms": ("<=", "p95 payment latency, ms"),
    "p99_ms": ("<=", "p99 payment latency, ms"),
    "ghost_charges": ("<=", "ghost charges (captured in the ledger, client told it failed)"),
    "dropped_rate": ("<=", "share of offered arrivals the load generator turned away"),
    "had_credit_failure_rate": ("<=", "share of the people with credit who could not pay"),
}
# An open-model run that turned more of its arrivals away did not offer the load it says it
# did: it fails this objective unless the scenario sets a dropped_rate of its own.
IMPLICIT_DROPPED_RATE = 0.001
_EPS = 1e-9  # a measured value equal to its target up to float noise holds


def holds(measured: float, target: float, comparison: str) -> bool:
    """Whether `measured` meets `target` under ">=" (a floor) or "<=" (a ceiling)."""
    if comparison == ">=":
        return measured >= target - _EPS * max(1.0, abs(target))
    return measured <= target + _EPS * max(1.0, abs(target))


def objectives_for(
    slo: Mapping[str, float | None], open_model: bool
) -> tuple[dict[str, float], frozenset[str]]:
    """The objectives a run is judged on (those set), and which of them the scenario did not
    set itself."""
    chosen = {name: float(v) for name, v in slo.items() if v is not None}
    implicit = set()
    if open_model and "dropped_rate" not in chosen:
        chosen["dropped_rate"] = IMPLICIT_DROPPED_RATE
        implicit.add("dropped_rate")
    return chosen, frozenset(implicit)

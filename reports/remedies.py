"""Remedies: which fix addresses which cause of had-credit failures (有额度付不了), and the
table of what each measured remedy won back over repeats of the same traffic.

The catalogue names a remedy for each cause; the ones marked `measurable` are switches the
lab can turn (a gateway setting or the app's client policy) and `paystorm remedies` runs;
the others are advice: what would address the cause outside the lab."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contract.codes import UNCERTAIN
from reports import wording

QUEUEING = frozenset({"CLIENT_TIMEOUT", "SYSTEM_BUSY", "CHANNEL_TIMEOUT", "RATE_LIMITED"})


@dataclass(frozen=True, slots=True)
class Remedy:
    name: str
    title: str
    addresses: frozenset[str]  # the final codes of the had-credit failures it addresses
    measurable: bool
    how: str  # what the lab switches on, or what to do outside it


CATALOGUE: tuple[Remedy, ...] = (
    Remedy(
        "capacity",
        "more capacity",
        QUEUEING,
        True,
        "half again as many slots on every bank channel (gateway.channels.*.concurrency)",
    ),
    Remedy(
        "shedding",
        "load shedding",
        frozenset({"CLIENT_TIMEOUT", "CHANNEL_TIMEOUT"}),
        True,
        "refuse overflow at once with SYSTEM_BUSY and Retry-After instead of queueing past the "
        "clients' timeout (gateway.capacity.shedding)",
    ),
    Remedy(
        "failover",
        "multi-channel failover",
        frozenset({"CHANNEL_UNAVAILABLE", "UPSTREAM_UNAVAILABLE", "CHANNEL_TIMEOUT"}),
        True,
        "route a payment to the next channel when its bank fails (gateway.failover)",
    ),
    Remedy(
        "backoff",
        "backoff that honours Retry-After",
        # An immediate retry finds its own first attempt still holding the key.
        QUEUEING | {"CONNECTION_ERROR", "IDEMPOTENCY_IN_PROGRESS"},
        True,
        "retry with exponential backoff and full jitter, never sooner than Retry-After, up to "
        "two retries (client.retry: backoff)",
    ),
    Remedy(
        "resolve",
        "query, then reverse, uncertain payments",
        UNCERTAIN,
        True,
        "replay the key until the gateway knows, reverse at the deadline "
        "(client.resolve_uncertain): fewer ghost charges",
    ),
    Remedy(
        "risk",
        "dynamic risk thresholds",
        frozenset({"RISK_DECLINED"}),
        False,
        "let risk control relax thresholds that decline good customers on a promo day",
    ),
    Remedy(
        "onboarding",
        "merchant onboarding checks",
        frozenset({"MERCHANT_NOT_SUPPORTED"}),
        False,
        "check that every merchant in the sale accepts credit-pay before it opens",
    ),
    Remedy(
        "clear_errors",
        "clear errors",
        frozenset({"INTERNAL_ERROR", "BAD_RESPONSE", "INVALID_REQUEST", "IDEMPOTENCY_MISMATCH"}),
        False,
        "answer with a code the app can act on (retry, wait, pay otherwise), not a bare 500",
    ),
)
BY_NAME = {r.name: r for r in CATALOGUE}


def remedies_for(causes: Mapping[str, int], top: int = 3) -> list[tuple[str, list[Remedy]]]:
    """The top causes (by count, most first) and the remedies that address each."""
    ranked = sorted(causes.items(), key=lambda kv: -kv[1])[:top]
    return [(code, [r for r in CATALOGUE if code in r.addresses]) for code, _ in ranked]


@dataclass(frozen=True, slots=True)
class Spread:
    mean: float | None
    sd: float | None  # sample standard deviation over the repeats; None with one
    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Spread:
        known = tuple(float(v) for v in values if v is not None)
        if not known:
            return cls(None, None, ())
        sd = statistics.stdev(known) if len(known) > 1 else None
        return cls(statistics.fmean(known), sd, known)


MEASURES: Mapping[str, tuple[str, ...]] = {
    "success_rate": ("success_rate",),
    "ghost_charges": ("ghost_charges",),
    "attempts_per_payment": ("attempts_per_payment",),
    "p99_ms": ("latency_ms", "p99"),
    "had_credit_failures": ("had_credit_failures",),
    # How late the load generator began payments: a starved generator, not the remedy,
    # may explain a difference.
    "lateness_p99_ms": ("lateness_ms", "p99"),
}


def _value(summary: Mapping[str, Any], path: tuple[str, ...]) -> float | None:
    node: Any = summary
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def spreads(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Spread]:
    """Each measure's spread over the repeats of one variant."""
    return {
        name: Spread.of([_value(s, path) for s in summaries]) for name, path in MEASURES.items()
    }


def won_back(baseline: Spread, remedy: Spread) -> dict[str, float | None]:
    """Success points won back: the remedy's mean minus the baseline's, and the spread of that
    difference from the two sets of repeats (their standard deviations combined)."""
    if baseline.mean is None or remedy.mean is None:
        return {"points": None, "spread": None}
    points = 100 * (remedy.mean - baseline.mean)
    if baseline.sd is None or remedy.sd is None:
        return {"points": points, "spread": None}
    return {"points": points, "spread": 100 * math.hypot(baseline.sd, remedy.sd)}


def table_rows(doc: Mapping[str, Any]) -> list[list[str]]:
    """One row per variant of remedies.json, baseline first, remedies by points won back."""
    rows = []
    for v in doc.get("variants") or ():
        m = v["measures"]
        back = v.get("won_back") or {}
        rows.append(
            [
                v["label"],
                _pair(m["success_rate"], lambda x: f"{100 * x:.2f} %"),
                "baseline" if v["remedy"] is None else _points(back),
                _pair(m["ghost_charges"], lambda x: f"{x:,.0f}"),
                _pair(m["attempts_per_payment"], lambda x: f"{x:.2f}"),
                _pair(m["p99_ms"], wording.ms),
                _pair(m.get("lateness_p99_ms") or {}, wording.ms),
                str(len(m["success_rate"]["values"])),
            ]
        )
    return rows


TABLE_HEAD = [
    "variant",
    "success rate",
    "points won back",
    "ghost charges",
    "attempts per payment",
    "p99",
    "generator late (p99)",
    "repeats",
]


def _pair(spread: Mapping[str, Any], show: Callable[[float], str]) -> str:
    if spread.get("mean") is None:
        return "n/a"
    sd = spread.get("sd")
    return show(spread["mean"]) + ("" if sd is None else f" ± {show(sd)}")


def _points(back: Mapping[str, Any]) -> str:
    points = back.get("points")
    if points is None:
        return "n/a"
    spread = back.get("spread")
    text = f"{points:+.2f}"
    if spread is not None:
        text += f" ± {spread:.2f}"
        if abs(points) <= spread:
            text += " (within the spread)"
    return text

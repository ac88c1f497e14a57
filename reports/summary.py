"""`summarize(run)`: the content of summary.json, SLO evaluation included, and the knee."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from contract import runfolder
from contract.objectives import IMPLICIT_DROPPED_RATE, OBJECTIVES, holds, objectives_for
from reports.judge import population_meanings, population_measures, split_by_link
from reports.knee import Knee, find_knee
from reports.latency import approx_quantiles, exact_quantiles
from reports.model import Run

__all__ = ["OBJECTIVES", "Knee", "evaluate_slo", "find_knee", "measured_duration_s", "summarize"]

_UNSPLIT = "payments.jsonl is absent: the people on each link cannot be told apart"
LATE_P99_MS = 10.0  # the executor's pick-up tolerance: later than this, the schedule slipped
# Why an objective's measured value can be unknown; an unknown value fails the objective.
UNMEASURED: Mapping[str, str] = {
    "success_rate": "no payment had credit, so there is no success rate",
    "p95_ms": "no payment latency was recorded",
    "p99_ms": "no payment latency was recorded",
    "ghost_charges": "no reconcile.json in the run folder: ghost charges were not checked",
    "dropped_rate": "no payment was offered",
    "had_credit_failure_rate": "no payment had credit",
}


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def measured_duration_s(run: Run) -> float | None:
    """ended_at - started_at from run.json, else its duration_s, else the seconds recorded."""
    if run.info is not None:
        started, ended = _parse_time(run.info.started_at), _parse_time(run.info.ended_at)
        if started is not None and ended is not None and ended.tzinfo == started.tzinfo:
            return max(0.0, (ended - started).total_seconds())
        if run.info.duration_s is not None:
            return run.info.duration_s
    return float(run.seconds[-1].time + 1) if run.seconds else None


def objectives_of(run: Run) -> tuple[dict[str, float], frozenset[str]]:
    """The objectives a run is judged on, and which of them the scenario did not set."""
    slo = dict(run.scenario.slo) if run.scenario else {}
    open_model = run.scenario is not None and run.scenario.load_model == "arrival-rate"
    return objectives_for(slo, open_model)


def evaluate_slo(
    slo: Mapping[str, float],
    measured: Mapping[str, float | None],
    why_unmeasured: Mapping[str, str] | None = None,
    implicit: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """One entry per objective set (known ones first, in OBJECTIVES order); unknown fails.

    `why_unmeasured` overrides the usual reason an objective has no measured value;
    `implicit` names the objectives paystorm added because the scenario did not set them.
    """
    reasons = {**UNMEASURED, **(why_unmeasured or {})}
    known = {**OBJECTIVES, **population_meanings(slo)}
    rank = {name: i for i, name in enumerate(known)}
    results = []
    for name, target in sorted(slo.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])):
        comparison, meaning = known.get(name, ("<=", "not an objective paystorm measures"))
        value = measured.get(name)
        entry: dict[str, Any] = {
            "name": name,
            "target": target,
            "measured": value,
            "passed": value is not None and holds(value, target, comparison),
            "comparison": comparison,
            "meaning": meaning,
        }
        if value is None:
            entry["note"] = reasons.get(name, f"{name} is not an objective paystorm measures")
        if name in implicit:
            entry["implicit"] = True
        results.append(entry)
    return results


def _causes(run: Run) -> tuple[dict[str, int], str]:
    """Had-credit failures by final code, and where the counts came from.

    From payments.jsonl when present: had-credit payments whose outcome is not succeeded,
    counted by final code. Without it, from the `code_<CODE>` columns of outcomes.csv, which
    count every payment ending with that code, including payments whose user lacked credit
    (so legitimate declines such as INSUFFICIENT_CREDIT are over-counted there).
    """
    if run.payments is not None:
        return dict(run.payments.had_credit_failures_by_code), runfolder.PAYMENTS
    totals: Counter[str] = Counter()
    for s in run.seconds:
        totals.update(s.codes)
    return dict(totals.most_common()), runfolder.OUTCOMES


def fault_split(run: Run) -> dict[str, Any]:
    """Success inside and outside fault windows: a second is inside when a window overlaps it.

    This is the comparison a remedy is judged on (failover off versus on): the same outage,
    and how many of the people with credit who arrived during it still paid (dropped
    arrivals counted as people with credit who could not pay, as in the headline).
    """
    inside: dict[str, float] = {"seconds": 0, "had_credit": 0, "had_credit_failed": 0}
    outside = dict(inside)
    people = {"inside": 0.0, "outside": 0.0}
    for second in run.seconds:
        if second.offered == 0 and second.payments == 0:
            continue
        where = "inside" if run.faults_during(second.time, second.time + 1) else "outside"
        part = inside if where == "inside" else outside
        part["seconds"] += 1
        part["had_credit"] += second.had_credit
        part["had_credit_failed"] += second.had_credit_failed
        people[where] += second.people_with_credit

    def rate(part: Mapping[str, float], who: float) -> float | None:
        return (part["had_credit"] - part["had_credit_failed"]) / who if who else None

    return {
        "inside": {**inside, "success_rate": rate(inside, people["inside"])},
        "outside": {**outside, "success_rate": rate(outside, people["outside"])},
    }


def _notes(run: Run) -> list[str]:
    notes = []
    if run.info is not None and run.info.stop_reason not in (None, "completed"):
        detail = f": {run.info.stop_detail}" if run.info.stop_detail else ""
        notes.append(f"The run stopped early ({run.info.stop_reason}{detail}).")
    if run.scenario is None:
        notes.append("scenario.yaml is absent: no objective was evaluated.")
    if not (run.path / runfolder.OUTCOMES).is_file():
        notes.append("outcomes.csv is absent: the run recorded no traffic.")
    if run.payments is None:
        notes.append(
            "payments.jsonl is absent or empty: latency percentiles are approximated from the "
            "per-second percentiles, and failures by cause come from the code columns, "
            "which also count payments whose user lacked credit."
        )
    if run.audit is None:
        notes.append("audit.json is absent: the ledger invariants were not checked.")
    elif run.audit.error:
        notes.append(f"The ledger audit could not run: {run.audit.error}")
    if run.reconcile is not None and run.reconcile.error:
        notes.append(f"The ledger cross-check could not run: {run.reconcile.error}")
    refunds = _refunds(run)
    if refunds and (refunds["lost"] or refunds["ghost"]):
        notes.append(
            f"Refunds against the ledger: {refunds['lost']} reported done but not given back, "
            f"{refunds['ghost']} given back while the refunder was told they failed "
            "(reconcile.json has examples)."
        )
    return notes


def lateness(run: Run) -> dict[str, float | None]:
    """How late payments began after their intended start: the load generator's delay."""
    values = run.payments.lateness_ms if run.payments is not None else None
    if values is None:
        return {"p50": None, "p99": None, "max": None}
    values = values[np.isfinite(values)]
    if not values.size:
        return {"p50": None, "p99": None, "max": None}
    p50, p99 = np.percentile(values, [50, 99])
    return {"p50": round(float(p50), 2), "p99": round(float(p99), 2), "max": float(values.max())}


def generator_note(run: Run, offered: int, dropped: int) -> str | None:
    """In words, when the load generator turned more than IMPLICIT_DROPPED_RATE of the
    arrivals away (that it did, not the gateway, and what pool it would have needed), or
    began payments late."""
    late = lateness(run)
    slow = None
    if late["p99"] is not None and late["max"] is not None and late["p99"] > LATE_P99_MS:
        slow = (
            f"The load generator began payments late, p99 {late['p99']:,.0f} ms and at most "
            f"{late['max']:,.0f} ms after their intended start, for want of CPU: latencies "
            "count from the intended start, and the gateway got those arrivals bunched."
        )
    drops = _drops_note(run, offered, dropped)
    said = " ".join(part for part in (drops, slow) if part)
    return said or None


def _drops_note(run: Run, offered: int, dropped: int) -> str | None:
    if not offered or dropped <= IMPLICIT_DROPPED_RATE * offered:
        return None
    said = (
        f"The load generator, not the gateway, turned away {dropped:,} of {offered:,} "
        f"arrivals ({dropped / offered:.1%}); they count as people not served."
    )
    pool = run.info.pool if run.info is not None else None
    busiest = max((x.users for x in run.seconds), default=0)
    if pool is None:
        return said
    if pool.users < pool.needed or busiest >= pool.users:
        return (
            f"{said} Every one of its {pool.users:,} users was busy: this scenario can need "
            f"{pool.needed:,} (load.max_users; leave it out to have the pool sized)."
        )
    return (
        f"{said} Its {pool.users:,} users were never all busy in one second (at most "
        f"{busiest:,}): the arrivals were lost to the generator itself (a Locust worker that "
        "left the run, or the run's end)."
    )


def _refunds(run: Run) -> dict[str, int] | None:
    """The refunders' side of the cross-check; None when the run had no refunders."""
    r = run.reconcile
    if r is None or not r.refunds:
        return None
    return {"count": r.refunds, "lost": r.lost_refunds or 0, "ghost": r.ghost_refunds or 0}


def summarize(run: Run) -> dict[str, Any]:
    """The content of summary.json: totals, rates, latency, causes, knee and SLO verdicts."""
    s = run.seconds

    def total(field: str) -> int:
        return sum(getattr(x, field) for x in s)

    had_credit, had_credit_failed = total("had_credit"), total("had_credit_failed")
    offered, dropped = total("offered"), total("dropped")
    people = sum(x.people_with_credit for x in s)
    paid = had_credit - had_credit_failed
    busy = [x for x in s if x.offered > 0 or x.payments > 0]
    if run.payments is not None:
        quantiles, source = exact_quantiles(run.payments.latency_ms), runfolder.PAYMENTS
    else:
        quantiles, source = approx_quantiles(s), "outcomes.csv (approximate)"
    causes, causes_source = _causes(run)
    success_rate = paid / people if people else None
    failure_rate = None if success_rate is None else 1.0 - success_rate
    ghost_charges = run.reconcile.ghost_charges if run.reconcile else None
    dropped_rate = _ratio(dropped, offered)
    measured = {
        "success_rate": success_rate,
        "p95_ms": quantiles["p95"],
        "p99_ms": quantiles["p99"],
        "ghost_charges": None if ghost_charges is None else float(ghost_charges),
        "dropped_rate": dropped_rate,
        "had_credit_failure_rate": failure_rate,
    }
    why = {}
    if run.reconcile is not None and run.reconcile.error:
        why["ghost_charges"] = f"the ledger cross-check failed: {run.reconcile.error}"
    objectives, implicit = objectives_of(run)
    if split_by_link(objectives):
        measured.update(population_measures(run, objectives))
        if run.payments is None:
            why.update(dict.fromkeys(population_meanings(objectives), _UNSPLIT))
    slo = evaluate_slo(objectives, measured, why, implicit)
    info, scenario = run.info, run.scenario
    return {
        "scenario": run.name,
        "description": scenario.description if scenario else "",
        "load_model": scenario.load_model if scenario else None,
        "stop_reason": info.stop_reason if info else None,
        "stop_detail": info.stop_detail if info else None,
        "started_at": info.started_at if info else None,
        "ended_at": info.ended_at if info else None,
        "duration_s": measured_duration_s(run),
        "planned_duration_s": scenario.duration_s if scenario else None,
        "success_rate": success_rate,
        "success_rate_of_served": _ratio(paid, had_credit),
        "people_with_credit": people,
        "generator": generator_note(run, offered, dropped),
        "payments": total("payments"),
        "attempts": total("attempts"),
        "attempts_per_payment": _ratio(total("attempts"), total("payments")),
        "offered": offered,
        "dropped": dropped,
        "dropped_rate": dropped_rate,
        "succeeded": total("succeeded"),
        "declined": total("declined"),
        "failed": total("failed"),
        "unknown": total("unknown"),
        "had_credit": had_credit,
        "had_credit_failures": had_credit_failed,
        "had_credit_failure_rate": failure_rate,
        "had_credit_failures_by_cause": causes,
        "had_credit_failures_by_cause_source": causes_source,
        "throughput": {
            "mean_succeeded_per_s": (sum(x.succeeded for x in busy) / len(busy) if busy else None),
            "peak_succeeded_per_s": max((x.succeeded for x in s), default=None),
            "mean_offered_per_s": sum(x.offered for x in busy) / len(busy) if busy else None,
            "peak_offered_per_s": max((x.offered for x in s), default=None),
            "seconds_with_traffic": len(busy),
        },
        "latency_ms": {**quantiles, "source": source},
        "lateness_ms": lateness(run),
        "ghost_charges": ghost_charges,
        "lost_successes": run.reconcile.lost_successes if run.reconcile else None,
        "refunds": _refunds(run),
        "knee": find_knee(run).as_dict(),
        "audit_ok": run.audit.ok if run.audit else None,
        "audit_failed_checks": [c.name for c in run.audit.checks if not c.ok] if run.audit else [],
        "fault_windows": fault_split(run),
        "faults": [
            {"id": f.id, "kind": f.kind, "started_at_s": f.started_at_s, "ended_at_s": f.ended_at_s}
            for f in run.faults
        ],
        "slo": slo,
        "slo_passed": all(o["passed"] for o in slo),
        "notes": _notes(run),
    }

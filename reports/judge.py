"""Judging a stretch of a run against its objectives, population by population: what the
knee's load bins, the whole run's verdict and the capacity search's steps share.

A scenario may give the people on weak mobile links objectives of their own
(`slo.weak_network`); then `success_rate`, `p95_ms` and `p99_ms` judge the people on normal
links and `weak_network.*` the others. Without it they judge everyone. A person the load
generator turned away could have been anyone: every population's success rate counts the
dropped arrivals as people with credit who were not served.

Splitting needs `payments.jsonl` (the line says the person's link); without it the split
measures are unknown, and an unknown objective fails.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from contract.objectives import holds
from reports.latency import approx_quantiles
from reports.model import FloatArray, IntArray, Run, Second

WEAK = "weak_network"
# The objectives a stretch of seconds is judged on (the rest are the whole run's alone).
STRETCH_OBJECTIVES = ("success_rate", "p99_ms", f"{WEAK}.success_rate", f"{WEAK}.p99_ms")
_Z95 = 1.959964  # two-sided 95 %
DROPPED_SECOND_SHARE = 0.005  # a second that dropped more of its arrivals breaks its stretch


def wilson_upper(successes: int, trials: int, z: float = _Z95) -> float:
    """Upper bound of the Wilson score interval of a success proportion."""
    if trials == 0:
        return 1.0
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return min(1.0, (centre + spread) / (1 + z * z / trials))


def split_by_link(slo: Mapping[str, float]) -> bool:
    """Whether the objectives judge the people on weak links apart from the others."""
    return any(name.startswith(f"{WEAK}.") for name in slo)


@dataclass(frozen=True, slots=True)
class Stretch:
    """What a stretch of seconds measured, for the judged populations."""

    seconds: int
    had_credit: int  # of the main population (normal links when split)
    paid: int
    people: int  # had credit, plus every dropped arrival
    p99_ms: float | None
    weak_had_credit: int
    weak_paid: int
    weak_people: int
    weak_p99_ms: float | None
    dropping_seconds: int  # seconds that dropped more than DROPPED_SECOND_SHARE

    @property
    def success_rate(self) -> float | None:
        return self.paid / self.people if self.people else None

    @property
    def weak_success_rate(self) -> float | None:
        return self.weak_paid / self.weak_people if self.weak_people else None

    def broken(self, slo: Mapping[str, float]) -> tuple[str, ...] | None:
        """The stretch objectives that broke, in STRETCH_OBJECTIVES order (a second that
        dropped arrivals breaks `dropped_rate`); None when there was nothing to judge.

        A success rate breaks only when even the top of its 95 % Wilson interval is below
        the target, so one unlucky failure in a thin stretch does not count."""
        judged: list[tuple[str, bool]] = []
        for name, paid, people in (
            ("success_rate", self.paid, self.people),
            (f"{WEAK}.success_rate", self.weak_paid, self.weak_people),
        ):
            if name in slo and people:
                judged.append((name, holds(wilson_upper(paid, people), slo[name], ">=")))
        for name, p99 in (("p99_ms", self.p99_ms), (f"{WEAK}.p99_ms", self.weak_p99_ms)):
            if name in slo and p99 is not None:
                judged.append((name, holds(p99, slo[name], "<=")))
        if self.dropping_seconds and any(name in slo for name in STRETCH_OBJECTIVES):
            judged.append(("dropped_rate", False))
        if not judged:
            return None
        return tuple(name for name, held in judged if not held)


def measure_stretches(
    run: Run, stretches: Sequence[Sequence[Second]], split: bool
) -> list[Stretch]:
    """Each stretch's measures; payments belong to the stretch holding their start second."""
    p99s, weak_p99s, weak_counts = _from_payments(run, stretches, split)
    result = []
    for members, p99, weak_p99, (weak_hc, weak_paid) in zip(
        stretches, p99s, weak_p99s, weak_counts, strict=True
    ):
        had_credit = sum(s.had_credit for s in members)
        paid = had_credit - sum(s.had_credit_failed for s in members)
        dropped = sum(s.dropped for s in members)
        result.append(
            Stretch(
                seconds=len(members),
                had_credit=had_credit - weak_hc,
                paid=paid - weak_paid,
                people=had_credit - weak_hc + dropped,
                p99_ms=p99,
                weak_had_credit=weak_hc,
                weak_paid=weak_paid,
                weak_people=weak_hc + dropped if weak_hc else 0,
                weak_p99_ms=weak_p99,
                dropping_seconds=sum(s.dropped > DROPPED_SECOND_SHARE * s.offered for s in members),
            )
        )
    return result


def _from_payments(
    run: Run, stretches: Sequence[Sequence[Second]], split: bool
) -> tuple[list[float | None], list[float | None], list[tuple[int, int]]]:
    """Per stretch: p99 of the main population, p99 of the weak links, and the weak links'
    (had credit, paid) — zero and None when not split."""
    none: list[float | None] = [None] * len(stretches)
    nothing = [(0, 0)] * len(stretches)
    log = run.payments
    if log is None:
        main = none if split else [approx_quantiles(m)["p99"] for m in stretches]
        return main, none, nothing
    which = _stretch_of_payments(log.start_s, stretches)
    weak = log.weak if split and log.weak is not None else np.zeros(which.shape, np.bool_)
    had_credit = log.had_credit if log.had_credit is not None else np.ones(which.shape, np.bool_)
    succeeded = log.outcome == 0
    latency = log.latency_ms
    main_p99, weak_p99, counts = [], [], []
    for index in range(len(stretches)):
        inside = which == index
        main_p99.append(_p99(latency[inside & ~weak]))
        weak_p99.append(_p99(latency[inside & weak]) if split else None)
        weak_hc = inside & weak & had_credit
        counts.append((int(weak_hc.sum()), int((weak_hc & succeeded).sum())))
    return main_p99, weak_p99, counts


def _p99(values: FloatArray) -> float | None:
    values = values[np.isfinite(values)]
    return float(np.percentile(values, 99)) if values.size else None


def _stretch_of_payments(start_s: FloatArray, stretches: Sequence[Sequence[Second]]) -> IntArray:
    """Each payment's stretch index through its start second; -1 outside every stretch."""
    times = [s.time for members in stretches for s in members]
    if not times:
        return np.full(start_s.shape, -1, dtype=np.int64)
    last = max(times)
    stretch_of_second = np.full(last + 1, -1, dtype=np.int64)
    for index, members in enumerate(stretches):
        for s in members:
            if s.time >= 0:
                stretch_of_second[s.time] = index
    second = np.floor(start_s)
    inside = (second >= 0) & (second <= last)
    result = np.full(start_s.shape, -1, dtype=np.int64)
    result[inside] = stretch_of_second[second[inside].astype(np.int64)]
    return result


def population_measures(run: Run, slo: Mapping[str, float]) -> dict[str, float | None]:
    """The whole run's success rate, p95 and p99 per population when `slo` splits them
    (normal links under the plain names, weak links under `weak_network.`); empty when it
    does not."""
    if not split_by_link(slo):
        return {}
    [whole] = measure_stretches(run, [run.seconds], split=True)
    log = run.payments
    main: dict[str, float | None] = {"p95_ms": None, "p99_ms": None}
    weak = dict(main)
    if log is not None and log.weak is not None:
        for into, mask in ((main, ~log.weak), (weak, log.weak)):
            values = log.latency_ms[mask]
            values = values[np.isfinite(values)]
            if values.size:
                p95, p99 = np.percentile(values, [95, 99])
                into.update(p95_ms=float(p95), p99_ms=float(p99))
    unsplit = log is None or log.weak is None
    return {
        "success_rate": None if unsplit else whole.success_rate,
        **main,
        f"{WEAK}.success_rate": None if unsplit else whole.weak_success_rate,
        **{f"{WEAK}.{name}": value for name, value in weak.items()},
    }


def population_meanings(slo: Mapping[str, float]) -> dict[str, tuple[str, str]]:
    """What each population's objective measures, in OBJECTIVES' form (comparison, meaning)."""
    if not split_by_link(slo):
        return {}
    people = "of the people on {} links"
    result = {}
    for prefix, link in (("", "normal"), (f"{WEAK}.", "weak")):
        who = people.format(link)
        result[f"{prefix}success_rate"] = (
            ">=",
            f"success rate {who} with credit, dropped arrivals counted as not served",
        )
        result[f"{prefix}p95_ms"] = ("<=", f"p95 payment latency {who}, ms")
        result[f"{prefix}p99_ms"] = ("<=", f"p99 payment latency {who}, ms")
    return result

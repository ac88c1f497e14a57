"""The knee: the highest offered load at which the SLO still held.

Seconds with traffic are grouped by offered payments/s into load bins. The bin width is the
spread of offered rates (max - min) divided by 20, rounded up to 1, 2, 2.5 or 5 times a power
of ten and never below 1 payment/s: about 10 to 21 bins whatever the scale. Each bin's
success rate comes from its summed counts (1 - Σhad_credit_failed / Σhad_credit), and its p99
from the payments started in its seconds (from `payments.jsonl`, else approximated from the
per-second percentiles, see `reports.latency`).

A bin's success rate counts the arrivals the load generator dropped as people not served
(`Second.people_with_credit`), and a bin holding a second that dropped more than 0.5 % of its
arrivals is broken whatever its success rate: past that point the generator, not the
gateway, decided who was served.

Walking the bins from low load upward, the first bin whose success rate is clearly below
the `success_rate` objective (even the upper end of its 95 % Wilson interval is below it, so
one unlucky failure in a thin bin of a ramp does not count as a knee), or whose p99 is above
the `p99_ms` objective, breaks the SLO. The knee is the highest offered rate seen in the last
bin before it that held; when no bin breaks, it is the highest offered rate of the run
(`held_to_max`). A bin with nothing to judge (no had-credit payment and no latency) neither
holds nor breaks. There is no knee when neither objective is set, or when there was no
traffic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reports.latency import approx_quantiles
from reports.model import Run, Second

_NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
_TARGET_BINS = 20
# Tolerance for comparing a measured value with its target: float noise, not leniency.
_EPS = 1e-9
_Z95 = 1.959964  # two-sided 95 %
DROPPED_SECOND_SHARE = 0.005  # a second that dropped more of its arrivals breaks its bin


def holds(measured: float, target: float, comparison: str) -> bool:
    """Whether `measured` meets `target` under ">=" (a floor) or "<=" (a ceiling)."""
    if comparison == ">=":
        return measured >= target - _EPS * max(1.0, abs(target))
    return measured <= target + _EPS * max(1.0, abs(target))


@dataclass(frozen=True, slots=True)
class LoadBin:
    low: float  # inclusive lower edge, payments/s
    high: float  # exclusive upper edge, payments/s
    max_offered: int  # highest offered rate of a second in the bin
    mean_offered: float
    seconds: int
    had_credit: int
    had_credit_failed: int
    success_rate: float | None
    p99_ms: float | None
    held: bool | None  # None: nothing to judge
    dropped: int = 0
    dropping_seconds: int = 0  # seconds that dropped more than DROPPED_SECOND_SHARE


@dataclass(frozen=True, slots=True)
class Knee:
    offered_per_s: float | None
    held_to_max: bool
    bin_width_per_s: float | None
    bins: tuple[LoadBin, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "offered_per_s": self.offered_per_s,
            "held_to_max": self.held_to_max,
            "bin_width_per_s": self.bin_width_per_s,
            "bins": [
                {
                    "low": b.low,
                    "high": b.high,
                    "max_offered": b.max_offered,
                    "mean_offered": b.mean_offered,
                    "seconds": b.seconds,
                    "had_credit": b.had_credit,
                    "success_rate": b.success_rate,
                    "p99_ms": b.p99_ms,
                    "held": b.held,
                    "dropped": b.dropped,
                    "dropping_seconds": b.dropping_seconds,
                }
                for b in self.bins
            ],
        }


def wilson_upper(successes: int, trials: int, z: float = _Z95) -> float:
    """Upper bound of the Wilson score interval of a success proportion."""
    if trials == 0:
        return 1.0
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return min(1.0, (centre + spread) / (1 + z * z / trials))


def bin_width(low: float, high: float) -> float:
    """A round bin width giving about 10 to 21 bins over [low, high]; at least 1."""
    raw = (high - low) / _TARGET_BINS
    if raw <= 1.0:
        return 1.0
    scale = 10.0 ** math.floor(math.log10(raw))
    return next(step * scale for step in _NICE_STEPS if step * scale >= raw)


def _bin_p99(run: Run, bins: list[list[Second]]) -> list[float | None]:
    if run.payments is None:
        return [approx_quantiles(members)["p99"] for members in bins]
    # Map each payment to its bin through its start second.
    last = max(s.time for members in bins for s in members)
    bin_of_second = np.full(last + 1, -1, dtype=np.int64)
    for index, members in enumerate(bins):
        for s in members:
            bin_of_second[s.time] = index
    second = np.floor(run.payments.start_s)
    inside = (second >= 0) & (second <= last)
    payment_bin = np.full(second.shape, -1, dtype=np.int64)
    payment_bin[inside] = bin_of_second[second[inside].astype(np.int64)]
    latency = run.payments.latency_ms
    result: list[float | None] = []
    for index in range(len(bins)):
        values = latency[(payment_bin == index) & np.isfinite(latency)]
        result.append(float(np.percentile(values, 99)) if values.size else None)
    return result


def load_bins(
    run: Run, success_target: float | None = None, p99_target: float | None = None
) -> tuple[float | None, tuple[LoadBin, ...]]:
    """The bin width and the load bins of the seconds with traffic, judged against the targets.

    A bin's `held` is None when no target is given or it holds nothing to judge; a bin with a
    second that dropped more than DROPPED_SECOND_SHARE of its arrivals never holds.
    """
    points = [s for s in run.seconds if s.offered > 0]
    if not points:
        return None, ()
    low, high = min(s.offered for s in points), max(s.offered for s in points)
    width = bin_width(low, high)
    origin = math.floor(low / width) * width
    grouped: dict[int, list[Second]] = {}
    for s in points:
        grouped.setdefault(int((s.offered - origin) // width), []).append(s)
    indexes = sorted(grouped)
    members = [grouped[i] for i in indexes]
    p99s = _bin_p99(run, members)

    bins = []
    for index, group, p99 in zip(indexes, members, p99s, strict=True):
        had_credit = sum(s.had_credit for s in group)
        failed = sum(s.had_credit_failed for s in group)
        people = sum(s.people_with_credit for s in group)
        rate = (had_credit - failed) / people if people else None
        dropping = sum(s.dropped > DROPPED_SECOND_SHARE * s.offered for s in group)
        verdicts = []
        if success_target is not None and rate is not None:
            upper = wilson_upper(had_credit - failed, people)
            verdicts.append(holds(upper, success_target, ">="))
        if p99_target is not None and p99 is not None:
            verdicts.append(holds(p99, p99_target, "<="))
        if dropping and (success_target is not None or p99_target is not None):
            verdicts.append(False)
        bins.append(
            LoadBin(
                low=origin + index * width,
                high=origin + (index + 1) * width,
                max_offered=max(s.offered for s in group),
                mean_offered=sum(s.offered for s in group) / len(group),
                seconds=len(group),
                had_credit=had_credit,
                had_credit_failed=failed,
                success_rate=rate,
                p99_ms=p99,
                held=all(verdicts) if verdicts else None,
                dropped=sum(s.dropped for s in group),
                dropping_seconds=dropping,
            )
        )
    return width, tuple(bins)


def find_knee(run: Run) -> Knee:
    """The knee of `run` against its scenario's success_rate and p99_ms objectives."""
    slo = run.scenario.slo if run.scenario else {}
    success_target, p99_target = slo.get("success_rate"), slo.get("p99_ms")
    width, bins = load_bins(run, success_target, p99_target)
    if not bins or (success_target is None and p99_target is None):
        return Knee(None, False, width, bins)
    knee: float | None = None
    for b in bins:
        if b.held is False:
            return Knee(knee, False, width, bins)
        if b.held:
            knee = float(b.max_offered)
    if knee is None:
        return Knee(None, False, width, bins)
    return Knee(float(max(b.max_offered for b in bins)), True, width, bins)

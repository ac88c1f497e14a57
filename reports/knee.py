"""The knee: the highest offered load at which the objectives still held, where the run's
load spans enough levels to bracket it.

The knee is read on the way up: the seconds with traffic up to the last one within
ONE_RATE_SPREAD of the highest offered rate (once the load falls, a second meets the backlog
the seconds before it left, whatever its own load). They are grouped by offered payments/s
into load bins. The bin width is the
spread of offered rates (max - min) divided by 20, rounded up to 1, 2, 2.5 or 5 times a power
of ten and never below 1 payment/s: about 10 to 21 bins whatever the scale. Each bin is
judged by `reports.judge`: its success rate from summed counts, dropped arrivals counted as
people not served, and its p99 from the payments started in its seconds (from
`payments.jsonl`, else approximated from the per-second percentiles), population by
population when the scenario gives the people on weak links objectives of their own. A bin
holding a second that dropped more than 0.5 % of its arrivals is broken whatever its success
rate: past that point the generator, not the gateway, decided who was served.

A bin is a *level* when the run spent at least LEVEL_SHARE of its seconds with traffic in it;
a bin a ramp merely passed through is shown but not judged for the knee (its payments met a
gateway still catching up with the load, or not yet behind it). Walking the levels from low
load upward, the first that breaks an objective brackets the knee with the last that held
before it: the knee is that level's highest offered rate (`bracketed`, with `broke_at_per_s`
and the objectives that broke). When no level breaks, the knee is the highest offered rate
(`held_to_max`); when the lowest level already breaks, there is none (`broke_at_lowest`).

A run whose levels all lie within ONE_RATE_SPREAD of each other was held at one rate: it has
no knee to show, only whether the objectives held at the rate it offered (`one_rate`). There
is no knee either when no stretch objective is set (`no_objectives`) or there was no traffic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reports.judge import STRETCH_OBJECTIVES, measure_stretches, split_by_link
from reports.model import Run, Second

_NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
_TARGET_BINS = 20
LEVEL_SHARE = 0.04  # of the seconds judged: less, and the load passed through the bin
ONE_RATE_SPREAD = 0.10  # levels closer than this share of the top one are one rate


@dataclass(frozen=True, slots=True)
class LoadBin:
    low: float  # inclusive lower edge, payments/s
    high: float  # exclusive upper edge, payments/s
    max_offered: int  # highest offered rate of a second in the bin
    mean_offered: float
    seconds: int
    had_credit: int
    had_credit_failed: int
    success_rate: float | None  # of the main population (normal links when split)
    p99_ms: float | None
    held: bool | None  # None: nothing to judge
    dropped: int = 0
    dropping_seconds: int = 0  # seconds that dropped more than DROPPED_SECOND_SHARE
    min_offered: int = 0
    level: bool = True  # the run dwelt here (LEVEL_SHARE); False: passed through
    broken: tuple[str, ...] = ()  # the objectives that broke here
    weak_success_rate: float | None = None
    weak_p99_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Knee:
    offered_per_s: float | None
    held_to_max: bool
    bin_width_per_s: float | None
    bins: tuple[LoadBin, ...]
    status: str = "no_objectives"
    """bracketed, held_to_max, broke_at_lowest, one_rate, no_objectives or no_traffic."""
    broke_at_per_s: float | None = None  # the lowest offered rate of the first level that broke
    broken_by: tuple[str, ...] = ()  # the objectives that broke there
    rate_per_s: float | None = None  # one_rate: the rate the run offered
    held_at_rate: bool | None = None  # one_rate: whether the objectives held there

    def as_dict(self) -> dict[str, object]:
        return {
            "offered_per_s": self.offered_per_s,
            "held_to_max": self.held_to_max,
            "status": self.status,
            "broke_at_per_s": self.broke_at_per_s,
            "broken_by": list(self.broken_by),
            "rate_per_s": self.rate_per_s,
            "held_at_rate": self.held_at_rate,
            "bin_width_per_s": self.bin_width_per_s,
            "bins": [
                {
                    "low": b.low,
                    "high": b.high,
                    "min_offered": b.min_offered,
                    "max_offered": b.max_offered,
                    "mean_offered": b.mean_offered,
                    "seconds": b.seconds,
                    "level": b.level,
                    "had_credit": b.had_credit,
                    "success_rate": b.success_rate,
                    "p99_ms": b.p99_ms,
                    "weak_success_rate": b.weak_success_rate,
                    "weak_p99_ms": b.weak_p99_ms,
                    "held": b.held,
                    "broken": list(b.broken),
                    "dropped": b.dropped,
                    "dropping_seconds": b.dropping_seconds,
                }
                for b in self.bins
            ],
        }


def bin_width(low: float, high: float) -> float:
    """A round bin width giving about 10 to 21 bins over [low, high]; at least 1."""
    raw = (high - low) / _TARGET_BINS
    if raw <= 1.0:
        return 1.0
    scale = 10.0 ** math.floor(math.log10(raw))
    return next(step * scale for step in _NICE_STEPS if step * scale >= raw)


def climb(seconds: tuple[Second, ...]) -> list[Second]:
    """The seconds with traffic on the way up: up to the last one within ONE_RATE_SPREAD of
    the highest offered rate. Once the load falls, a second's fate is the backlog the
    seconds before it left (a quiet minute after a sale still drains the sale's queue), not
    its own load."""
    points = [s for s in seconds if s.offered > 0]
    if not points:
        return []
    top = max(s.offered for s in points)
    last = max(i for i, s in enumerate(points) if s.offered >= (1 - ONE_RATE_SPREAD) * top)
    return points[: last + 1]


def load_bins(
    run: Run, slo: dict[str, float] | None = None
) -> tuple[float | None, tuple[LoadBin, ...]]:
    """The bin width and the load bins of the seconds with traffic, judged against `slo`
    (the stretch objectives in it; None or empty: nothing is judged).

    A bin's `held` is None when no objective applies or it holds nothing to judge; a bin with
    a second that dropped more than DROPPED_SECOND_SHARE of its arrivals never holds.
    """
    slo = {k: v for k, v in (slo or {}).items() if k in STRETCH_OBJECTIVES}
    points = climb(run.seconds)
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
    stretches = measure_stretches(run, members, split_by_link(slo))
    dwell = max(1.0, LEVEL_SHARE * len(points))
    bins = []
    for index, group, m in zip(indexes, members, stretches, strict=True):
        broken = m.broken(slo)
        bins.append(
            LoadBin(
                low=origin + index * width,
                high=origin + (index + 1) * width,
                max_offered=max(s.offered for s in group),
                mean_offered=sum(s.offered for s in group) / len(group),
                seconds=len(group),
                had_credit=m.had_credit,
                had_credit_failed=m.had_credit - m.paid,
                success_rate=m.success_rate,
                p99_ms=m.p99_ms,
                held=None if broken is None else not broken,
                dropped=sum(s.dropped for s in group),
                dropping_seconds=m.dropping_seconds,
                min_offered=min(s.offered for s in group),
                level=len(group) >= dwell,
                broken=broken or (),
                weak_success_rate=m.weak_success_rate,
                weak_p99_ms=m.weak_p99_ms,
            )
        )
    return width, tuple(bins)


def find_knee(run: Run) -> Knee:
    """The knee of `run` against its scenario's objectives (see the module's docstring)."""
    slo = {k: v for k, v in (run.scenario.slo if run.scenario else {}).items()}
    width, bins = load_bins(run, slo)
    if not bins:
        return Knee(None, False, width, bins, status="no_traffic")
    if not any(k in STRETCH_OBJECTIVES for k in slo):
        return Knee(None, False, width, bins)
    levels = [b for b in bins if b.level and b.held is not None]
    if not levels:
        return Knee(None, False, width, bins, status="no_traffic")
    top = max(b.mean_offered for b in levels)
    if top - min(b.mean_offered for b in levels) <= ONE_RATE_SPREAD * top:
        seconds = sum(b.seconds for b in levels)
        rate = sum(b.mean_offered * b.seconds for b in levels) / seconds
        broken = tuple(dict.fromkeys(n for b in levels for n in b.broken))
        return Knee(
            None,
            False,
            width,
            bins,
            status="one_rate",
            broken_by=broken,
            rate_per_s=rate,
            held_at_rate=not broken,
        )
    knee: float | None = None
    for b in levels:
        if b.held is False:
            status = "bracketed" if knee is not None else "broke_at_lowest"
            return Knee(
                knee,
                False,
                width,
                bins,
                status=status,
                broke_at_per_s=float(b.min_offered),
                broken_by=b.broken,
            )
        knee = float(b.max_offered)
    return Knee(knee, True, width, bins, status="held_to_max")

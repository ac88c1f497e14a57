"""When the open model's arrivals are due: pure arithmetic, no Locust or gevent here.

Arrival n of a run (n = 0, 1, 2 …) is due when the expected count — the integral of the
scenario's rate over wall time — reaches n + ½. Counting from the integral instead of sleeping
once per arrival keeps the count exact however the scheduler's wake-ups fall (gevent's timers
tick about every millisecond), and the half keeps a steady rate's arrivals off the second
boundaries: 150/s puts exactly 150 arrivals in every second.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from scenarios.model import Stage

PHASE = 0.5  # arrival n is due when the expected count reaches n + PHASE


@dataclass(frozen=True, slots=True)
class Ticket:
    """One arrival: a payment that should start at `due_s`."""

    k: int  # run-wide arrival number; worker `slot` of W serves k ≡ slot (mod W)
    due_s: float  # intended start, seconds since the run's t0
    released_s: float  # when the scheduler queued it, same clock


@dataclass(frozen=True, slots=True)
class _Segment:
    """A stretch of wall time over which the rate is linear (a step stage is flat)."""

    start_s: float
    end_s: float
    rate0: float  # payments per wall second at start_s
    rate1: float  # … at end_s
    before: float  # arrivals expected before start_s

    @property
    def count(self) -> float:
        return (self.rate0 + self.rate1) / 2 * (self.end_s - self.start_s)

    def expected_at(self, t_s: float) -> float:
        x = min(max(t_s, self.start_s), self.end_s) - self.start_s
        slope = (self.rate1 - self.rate0) / (self.end_s - self.start_s)
        return self.before + self.rate0 * x + slope * x * x / 2

    def time_of(self, expected: float) -> float:
        """When the expected count reaches `expected` (between `before` and `before + count`)."""
        c = expected - self.before
        length = self.end_s - self.start_s
        slope = (self.rate1 - self.rate0) / length
        if slope == 0:
            x = c / self.rate0 if self.rate0 > 0 else 0.0
        else:
            # The root of slope/2·x² + rate0·x - c = 0 in the form that stays exact when
            # slope is tiny or rate0 is 0.
            root = math.sqrt(max(0.0, self.rate0 * self.rate0 + 2 * slope * c))
            x = 2 * c / (self.rate0 + root)
        return self.start_s + min(max(x, 0.0), length)


def segments(
    stages: tuple[Stage, ...], *, speed: float = 1.0, end_s: float = math.inf
) -> list[_Segment]:
    """The stages in wall time (scenario time / speed), cut at `end_s`; rates stay per wall
    second. Levels follow `scenarios.model.rate_at`."""
    out: list[_Segment] = []
    previous = start = before = 0.0
    for stage in stages:
        level = float(stage.rate or 0.0)
        a, b = start / speed, stage.until_s / speed
        r0 = previous if stage.ramp == "linear" else level
        r1 = level
        previous, start = level, stage.until_s
        if a >= end_s:
            break
        if b > end_s:
            r1 = r0 + (r1 - r0) * (end_s - a) / (b - a)
            b = end_s
        if b <= a:
            continue
        segment = _Segment(a, b, r0, r1, before)
        out.append(segment)
        before += segment.count
    return out


class ArrivalSchedule:
    """Due times of one process's share of a scenario's arrivals, in wall seconds since t0.

    Worker `slot` of `workers` serves arrivals k ≡ slot (mod workers), so workers that share
    the run's start time share the arrivals between them without talking to each other."""

    def __init__(
        self,
        stages: tuple[Stage, ...],
        *,
        speed: float = 1.0,
        end_s: float = math.inf,
        slot: int = 0,
        workers: int = 1,
    ) -> None:
        if workers < 1 or not 0 <= slot < workers:
            raise ValueError(f"slot {slot} of {workers} workers: expected 0 <= slot < workers")
        self._segments = segments(stages, speed=speed, end_s=end_s)
        self._starts = [s.start_s for s in self._segments]
        self._befores = [s.before for s in self._segments]
        last = self._segments[-1] if self._segments else None
        self.total = last.before + last.count if last else 0.0
        """Arrivals expected over the whole schedule, every worker's together."""
        self._workers = workers
        self._switch: tuple[int, int, int] | None = None  # (slot, workers, from arrival k)
        self._last_k: int | None = None  # the last arrival released
        self._next_k = slot
        self._next_due_s = self.due_s(slot)

    def expected(self, t_s: float) -> float:
        """Arrivals expected (every worker's) from 0 to `t_s`: the integral of the rate."""
        i = bisect_right(self._starts, t_s) - 1
        return 0.0 if i < 0 else self._segments[i].expected_at(t_s)

    def due_s(self, k: int) -> float:
        """When arrival `k` is due; infinity when the schedule ends before it."""
        target = k + PHASE
        if target > self.total:
            return math.inf
        # The segment where the expected count passes `target`: the last that starts below it.
        i = bisect_left(self._befores, target) - 1
        return self._segments[i].time_of(target)

    @property
    def next_due_s(self) -> float:
        """When this process's next arrival is due (infinity when none is left)."""
        return self._next_due_s

    @property
    def exhausted(self) -> bool:
        return self._next_due_s == math.inf

    def first_due_from(self, t_s: float) -> int:
        """The first arrival (run-wide number) due at or after `t_s`."""
        k = max(0, math.ceil(self.expected(t_s) - PHASE))
        while k > 0 and self.due_s(k - 1) >= t_s:  # rounding at the boundary
            k -= 1
        while self.due_s(k) < t_s:
            k += 1
        return k

    def reassign(self, slot: int, workers: int, from_k: int) -> None:
        """From arrival `from_k` on, serve k ≡ slot (mod workers): the workers changed. Every
        worker gets the same `from_k` (a moment ahead), and serves its old share until then,
        so no arrival is served twice or by nobody."""
        if workers < 1 or not 0 <= slot < workers:
            raise ValueError(f"slot {slot} of {workers} workers: expected 0 <= slot < workers")
        # Heard of it late (an arrival at or past the switch already served here): switch
        # right after the last one served, so none is served twice.
        last = self._last_k
        switch_k = from_k if last is None or last < from_k else last + 1
        self._switch = (slot, workers, switch_k)
        if last is None or self._next_k >= switch_k:  # nothing served yet: begin at the switch
            self._next_k = switch_k
        self._advance(0)

    def _advance(self, step: int) -> None:
        """The next arrival of this process, `step` on in the current share, or the first of
        the new share once the switch is reached."""
        k = self._next_k + step
        if self._switch is not None and k >= self._switch[2]:
            slot, workers, from_k = self._switch
            self._switch = None
            self._workers = workers
            k = from_k + (slot - from_k) % workers
        self._next_k = k
        self._next_due_s = self.due_s(k)

    def release(self, now_s: float) -> list[Ticket]:
        """Every arrival of this process due by `now_s` and not released before, in order."""
        out: list[Ticket] = []
        while self._next_due_s <= now_s and self._next_due_s != math.inf:
            out.append(Ticket(self._next_k, self._next_due_s, now_s))
            self._last_k = self._next_k
            self._advance(self._workers)
        return out

"""The open model's pool of users, sized so that it never decides the result.

An arrival that finds every user busy is dropped: the pool would act as an admission control
in front of the gateway, hiding the very collapse a spike should show. So, unless the
scenario names `load.max_users`, the pool is as many users as the people who can be in
flight at once in the worst case — for each kind of person, the most arrivals due within the
longest that person can take (`scenarios.people.longest_person_s`) — plus headroom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from contract.profile import ProfileError, apply_overrides
from scenarios.model import Scenario, rate_at
from scenarios.people import longest_person_s

HEADROOM = 1.25  # the mix is drawn at random: a second may bring more slow people than its share
SPARE_USERS = 10
GRID_S = 0.05  # wall seconds per step when looking for the busiest stretch of the schedule


@dataclass(frozen=True, slots=True)
class PoolNeed:
    users: int
    """Users that serve every arrival even if each person took as long as they can."""
    peak_rate_per_s: float
    longest_s: float
    """The longest one person of the mix can hold a user."""

    def describe(self) -> str:
        return (
            f"{self.users:,} users ({self.peak_rate_per_s:g} arrivals/s at the peak, up to "
            f"{self.longest_s:.1f} s per person, +{HEADROOM - 1:.0%})"
        )


def retry_after_bound_s(scenario: Scenario, gateway_retry_after_s: float) -> float:
    """The longest Retry-After the gateway may answer: its own (shedding, injected busy
    errors) or a rate-limit fault's wait for its next token."""
    bound = float(gateway_retry_after_s)
    for fault in scenario.faults:
        rps = fault.raw_params.get("rps") if fault.kind == "rate_limit" else None
        if isinstance(rps, int | float) and rps > 0:
            bound = max(bound, float(math.ceil(1 / rps)))
    return bound


def busiest_window(scenario: Scenario, window_s: float) -> float:
    """The most arrivals due within any `window_s` wall seconds of the run."""
    stages, speed = scenario.load.stages, scenario.speed
    steps = max(1, math.ceil(scenario.run_duration_s / GRID_S))
    width = max(1, math.ceil(window_s / GRID_S))
    # Arrivals per grid step (rates are per wall second; the stages run `speed` times faster).
    per_step = [GRID_S * rate_at(stages, (i + 0.5) * GRID_S * speed) for i in range(steps)]
    best = running = sum(per_step[:width])
    for i in range(width, steps):
        running += per_step[i] - per_step[i - width]
        best = max(best, running)
    return best


def people_of(scenario: Scenario) -> list[tuple[float, float]]:
    """Each kind of person the scenario sends (the mix, weak links apart): its share of the
    arrivals, and the longest it can hold a user."""
    client = scenario.client
    try:
        gateway_retry_after_s = float(apply_overrides(scenario.gateway).capacity.retry_after_s)
    except ProfileError:  # the loader has refused such a scenario already
        gateway_retry_after_s = 1.0
    retry_after = retry_after_bound_s(scenario, gateway_retry_after_s)
    weights = {kind: w for kind, w in scenario.mix.weights().items() if w > 0}
    total = sum(weights.values())
    people = []
    for kind, weight in weights.items():
        weak_share = 0.0 if kind == "pos" else client.weak_network_share
        for weak, share in ((False, 1 - weak_share), (True, weak_share)):
            if share > 0:
                hold_s = longest_person_s(client, kind, weak=weak, retry_after_s=retry_after)
                people.append((weight / total * share, hold_s))
    return people


def longest_person_of(scenario: Scenario) -> float:
    """The longest any person of the scenario can take: what a run's end waits for."""
    return max(hold_s for _, hold_s in people_of(scenario))


def pool_need(scenario: Scenario) -> PoolNeed:
    """The pool an arrival-rate scenario needs so that no arrival waits for a free user."""
    people = 0.0
    longest = 0.0
    for share, hold_s in people_of(scenario):
        longest = max(longest, hold_s)
        people += share * busiest_window(scenario, hold_s)
    peak = max((stage.rate or 0.0) for stage in scenario.load.stages)
    return PoolNeed(
        users=math.ceil(people * HEADROOM) + SPARE_USERS,
        peak_rate_per_s=peak,
        longest_s=longest,
    )


@dataclass(frozen=True, slots=True)
class Pool:
    """The pool a run uses: the scenario's `max_users`, or the need when it names none."""

    users: int
    need: PoolNeed
    explicit: bool

    @property
    def short(self) -> bool:
        """The scenario's own pool is smaller than the worst case needs."""
        return self.users < self.need.users

    def as_json(self) -> dict[str, object]:
        return {
            "users": self.users,
            "needed": self.need.users,
            "explicit": self.explicit,
            "peak_rate_per_s": self.need.peak_rate_per_s,
            "longest_person_s": round(self.need.longest_s, 3),
        }


def pool_of(scenario: Scenario) -> Pool:
    need = pool_need(scenario)
    explicit = scenario.load.max_users
    return Pool(users=explicit or need.users, need=need, explicit=explicit is not None)

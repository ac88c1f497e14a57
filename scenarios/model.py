"""A scenario as plain frozen data, with the pure functions that read it (no Locust here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

LoadModel = Literal["users", "arrival-rate"]
Ramp = Literal["step", "linear"]
RetryPolicy = Literal["none", "immediate", "backoff"]
USER_TYPES = ("shopper", "pos", "refund")


@dataclass(frozen=True, slots=True)
class Stage:
    """Holds until `until_s` (seconds since start); `ramp: linear` slides from the previous
    stage's level to this one's over the stage, `step` jumps at its start."""

    until_s: float
    rate: float | None = None  # payments started per second (arrival-rate)
    users: int | None = None  # concurrent users (users model)
    ramp: Ramp = "step"


@dataclass(frozen=True, slots=True)
class Load:
    model: LoadModel
    stages: tuple[Stage, ...]
    max_users: int | None = None
    """Arrival-rate pool size; an arrival that finds every user busy is dropped and counted.
    None: sized from the scenario so that no arrival ever waits (see scenarios.pool)."""
    spawn_rate: float = 50.0
    """Users model: users started (or stopped) per second when the level changes."""
    think_time_s: tuple[float, float] = (0.5, 2.0)
    """Users model: pause between one shopper's payments, uniform in [min, max]."""


@dataclass(frozen=True, slots=True)
class ClientPolicy:
    timeout_s: float = 5.0
    retry: RetryPolicy = "none"
    max_retries: int = 0
    resolve_uncertain: bool = False
    """On an uncertain result, replay the key until the gateway knows, then reverse."""
    resolve_deadline_s: float = 10.0
    """How long resolving may take before the client reverses the payment."""
    weak_network_share: float = 0.0
    """Share of people on a weak mobile link: slow round trips, a short deadline, and
    connections that drop after the request went out (see locustfiles/network.py)."""


@dataclass(frozen=True, slots=True)
class Population:
    """The embedded gateway's seeded users and merchants."""

    seed: int = 1
    accounts: int = 10_000
    merchants: int = 500


@dataclass(frozen=True, slots=True)
class FaultSpec:
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    start_in_s: float = 0.0
    duration_s: float | None = None
    seed: int = 0


@dataclass(frozen=True, slots=True)
class SLO:
    success_rate: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    ghost_charges: int | None = None
    dropped_rate: float | None = None
    had_credit_failure_rate: float | None = None


@dataclass(frozen=True, slots=True)
class Guard:
    """Abort when the success rate stays below `min_success_rate` for `for_s` seconds."""

    min_success_rate: float | None = None
    for_s: float = 15.0


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    duration_s: float
    load: Load
    description: str = ""
    speed: float = 1.0
    mix: dict[str, float] = field(default_factory=lambda: {"shopper": 100.0})
    client: ClientPolicy = ClientPolicy()
    gateway: dict[str, Any] = field(default_factory=dict)
    population: Population = Population()
    faults: tuple[FaultSpec, ...] = ()
    slo: SLO = SLO()
    guard: Guard = Guard()

    @property
    def run_duration_s(self) -> float:
        """Wall-clock length of the run once `speed` compresses it."""
        return self.duration_s / self.speed


def _level(stages: tuple[Stage, ...], t: float, attr: str) -> float:
    previous = 0.0
    start = 0.0
    for stage in stages:
        level = float(getattr(stage, attr) or 0)
        if t < stage.until_s:
            if stage.ramp == "linear" and stage.until_s > start:
                return previous + (level - previous) * (t - start) / (stage.until_s - start)
            return level
        previous, start = level, stage.until_s
    return 0.0


def rate_at(stages: tuple[Stage, ...], t: float) -> float:
    """Arrivals per second due at `t` seconds into the scenario (0 after the last stage)."""
    return _level(stages, t, "rate")


def users_at(stages: tuple[Stage, ...], t: float) -> int:
    """Users that should be running at `t` seconds into the scenario (0 after the last stage)."""
    return round(_level(stages, t, "users"))

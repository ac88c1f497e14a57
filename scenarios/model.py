"""A scenario as typed frozen data — the scenario file's format and limits, checked by
msgspec in one pass (scenarios.loader) — with the pure functions that read it (no Locust
here)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, field

from faults import FaultSpec

LoadModel = Literal["users", "arrival-rate"]
Ramp = Literal["step", "linear"]
RetryPolicy = Literal["none", "immediate", "backoff"]

# Bounds that keep every run finite: a week of scenario time, a million arrivals a second.
MAX_SECONDS = 7 * 24 * 3600.0
Seconds = Annotated[float, Meta(gt=0, le=MAX_SECONDS)]
Share = Annotated[float, Meta(ge=0, le=1)]
Ms = Annotated[float, Meta(gt=0, le=MAX_SECONDS * 1000)]


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A part of a scenario file: unknown fields are mistakes, not extensions."""


class Stage(_Section, frozen=True):
    """Holds until `until_s` (seconds since start); `ramp: linear` slides from the previous
    stage's level to this one's over the stage, `step` jumps at its start."""

    until_s: Seconds
    rate: Annotated[float, Meta(ge=0, le=1_000_000)] | None = None
    """Payments started per second (arrival-rate)."""
    users: Annotated[int, Meta(ge=0, le=1_000_000)] | None = None
    """Concurrent users (users model)."""
    ramp: Ramp = "step"


class Load(_Section, frozen=True):
    model: LoadModel
    stages: tuple[Stage, ...]
    max_users: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    """Arrival-rate pool size; an arrival that finds every user busy is dropped and counted.
    None: sized from the scenario so that no arrival ever waits (see scenarios.pool)."""
    spawn_rate: Annotated[float, Meta(gt=0, le=1_000_000)] = 50.0
    """Users model: users started (or stopped) per second when the level changes."""
    think_time_s: tuple[
        Annotated[float, Meta(ge=0, le=3600)], Annotated[float, Meta(ge=0, le=3600)]
    ] = (0.5, 2.0)
    """Users model: pause between one shopper's payments, uniform in [min, max]."""


class ClientPolicy(_Section, frozen=True):
    timeout_s: Annotated[float, Meta(gt=0, le=300)] = 5.0
    retry: RetryPolicy = "none"
    max_retries: Annotated[int, Meta(ge=0, le=20)] = 0
    resolve_uncertain: bool = False
    """On an uncertain result, replay the key until the gateway knows, then reverse."""
    resolve_deadline_s: Annotated[float, Meta(gt=0, le=600)] = 10.0
    """How long resolving may take before the client reverses the payment."""
    weak_network_share: Share = 0.0
    """Share of people on a weak mobile link: slow round trips, a short deadline, and
    connections that drop after the request went out (see locustfiles/network.py)."""
    adapter: str | None = None
    """`package.module:Name`: a client adapter that speaks another payment API (see
    docs/proxy.md); None: the mock gateway's own API."""


class Target(_Section, frozen=True):
    """Where the load goes instead of the embedded gateway, and whether the fault proxy sits
    in front of it (the scenario's faults then go to the proxy)."""

    url: str | None = None
    """The service's base URL, `http://HOST:PORT` (loopback unless --allow-remote); None:
    the embedded gateway. `paystorm run --target` overrides it."""
    proxy: bool = False
    """Start the fault proxy in front of the target and send the load through it."""


class Population(_Section, frozen=True):
    """The embedded gateway's seeded users and merchants."""

    seed: Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)] = 1
    accounts: Annotated[int, Meta(ge=1, le=999_999)] = 10_000
    merchants: Annotated[int, Meta(ge=1, le=99_999)] = 500


class LinkSLO(_Section, frozen=True):
    """Objectives of the people on weak mobile links (`client.weak_network_share`)."""

    success_rate: Share | None = None
    p95_ms: Ms | None = None
    p99_ms: Ms | None = None


class SLO(_Section, frozen=True):
    success_rate: Share | None = None
    p95_ms: Ms | None = None
    p99_ms: Ms | None = None
    ghost_charges: Annotated[int, Meta(ge=0)] | None = None
    dropped_rate: Share | None = None
    had_credit_failure_rate: Share | None = None
    weak_network: LinkSLO | None = None
    """Objectives of their own for the people on weak links; when set, `success_rate`,
    `p95_ms` and `p99_ms` above judge the people on normal links."""


class Guard(_Section, frozen=True):
    """Abort when the success rate stays below `min_success_rate` for `for_s` seconds."""

    min_success_rate: Share | None = None
    for_s: Seconds = 15.0


Weight = Annotated[float, Meta(ge=0, le=1_000_000)]


class Mix(_Section, frozen=True):
    """Relative weights of the user types: who arrives, in what proportion."""

    shopper: Weight = 0.0
    pos: Weight = 0.0
    refund: Weight = 0.0

    def weights(self) -> dict[str, float]:
        return {"shopper": self.shopper, "pos": self.pos, "refund": self.refund}


class Scenario(_Section, frozen=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    duration_s: Seconds
    load: Load
    description: str = ""
    speed: Annotated[float, Meta(gt=0, le=1000)] = 1.0
    mix: Mix = Mix(shopper=100.0)
    client: ClientPolicy = ClientPolicy()
    gateway: dict[str, Any] = field(default_factory=dict)
    """Overrides of the embedded gateway's profile (contract.profile checks them)."""
    population: Population = Population()
    target: Target = Target()
    faults: tuple[FaultSpec[Any], ...] = ()
    """The fault timeline, each checked by its kind's own module (faults.parse_fault)."""
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

"""How the gateway behaves under load: capacity, channels, failover, breaker, risk, timeouts.

A profile is frozen data. `default` gives a knee one Locust core can reach; `bench` removes
every artificial cost so only the gateway's own shows. A YAML file (`--config`) or a
scenario's `gateway:` section overrides any field, validated here with the field named."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType, structs

from contract.problems import check
from contract.validate import InputError

CHANNEL_NAMES = ("bank_a", "bank_b", "balance_fallback")


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    name: str
    weight: float
    """Share of payments sent here first (0: used only when others fail)."""
    concurrency: int
    """Payments the channel works on at once; more wait for a free slot."""
    service_ms: float
    """Mean time the channel takes per payment (lognormal around it; 0: instant)."""
    jitter: float = 0.5
    """Lognormal sigma of the service time; 0 makes it fixed."""

    @property
    def capacity_per_s(self) -> float:
        """Little's law: concurrency / mean service time."""
        return math.inf if self.service_ms <= 0 else self.concurrency * 1000 / self.service_ms


@dataclass(frozen=True, slots=True)
class Capacity:
    max_inflight: int | None = 128
    """/v1 requests handled at once; None: no limit."""
    queue: int = 256
    """Requests that may wait for a slot when shedding is on; beyond it, 503 SYSTEM_BUSY."""
    shedding: bool = False
    """On: overflow is refused at once. Off: requests wait until their client gives up."""
    retry_after_s: int = 1


@dataclass(frozen=True, slots=True)
class Breaker:
    enabled: bool = True
    failures: int = 5
    """Consecutive failures of a channel that open its breaker."""
    open_s: float = 5.0
    """How long it stays open before one probe is let through (half-open)."""


@dataclass(frozen=True, slots=True)
class Ledger:
    commit: Literal["group", "each"] = "group"
    """group: every payment queued while a commit runs shares the next one (one fsync for
    many); each: one transaction per payment, to measure what group commit saves."""
    fsync: bool = True
    """True: SQLite synchronous=FULL, a payment is on disk before it is acknowledged. False
    (synchronous=OFF): no fsync at all, to measure what durability costs; a crash may lose
    acknowledged payments."""


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    channels: tuple[ChannelSpec, ...]
    capacity: Capacity = Capacity()
    failover: bool = True
    breaker: Breaker = Breaker()
    risk_false_positive_rate: float = 0.0
    channel_timeout_ms: float = 3_000.0
    """A channel silent this long: 504 CHANNEL_TIMEOUT, the payment left PENDING."""
    db_timeout_ms: float = 2_000.0
    """A commit not done this long: 504 DB_TIMEOUT; the commit still completes later."""
    settle_delay_s: float = 5.0
    """PENDING payments are resolved by the gateway this long after they were made."""
    settle_success_share: float = 0.7
    """Share of PENDING payments the channel turns out to have charged."""
    ledger: Ledger = Ledger()

    def channel(self, name: str) -> ChannelSpec | None:
        return next((c for c in self.channels if c.name == name), None)


DEFAULT = Profile(
    name="default",
    # 12/50 ms + 8/50 ms: 240/s + 160/s, both full at 400 payments/s with the 60/40 split.
    channels=(
        ChannelSpec("bank_a", weight=60, concurrency=12, service_ms=50),
        ChannelSpec("bank_b", weight=40, concurrency=8, service_ms=50),
        ChannelSpec("balance_fallback", weight=0, concurrency=4, service_ms=25),
    ),
)

BENCH = Profile(
    name="bench",
    channels=(
        ChannelSpec("bank_a", weight=60, concurrency=1_000_000, service_ms=0, jitter=0),
        ChannelSpec("bank_b", weight=40, concurrency=1_000_000, service_ms=0, jitter=0),
        ChannelSpec("balance_fallback", weight=0, concurrency=1_000_000, service_ms=0, jitter=0),
    ),
    capacity=Capacity(max_inflight=None),
)

ProfileName = Literal["default", "bench"]
PROFILES: dict[str, Profile] = {"default": DEFAULT, "bench": BENCH}

# The overrides as the input has them: every field optional (UNSET: not given, keep the
# base's), unknown ones refused with the known ones listed.
Number = Annotated[float, Meta(ge=0)]
Share = Annotated[float, Meta(ge=0, le=1)]
Millis = Annotated[float, Meta(ge=1)]


class CapacityOverrides(Struct, frozen=True, forbid_unknown_fields=True):
    max_inflight: Annotated[int, Meta(ge=1)] | UnsetType | None = UNSET
    queue: Annotated[int, Meta(ge=0)] | UnsetType = UNSET
    shedding: bool | UnsetType = UNSET
    retry_after_s: Annotated[int, Meta(ge=0)] | UnsetType = UNSET


class ChannelOverrides(Struct, frozen=True, forbid_unknown_fields=True):
    weight: Number | UnsetType = UNSET
    concurrency: Annotated[int, Meta(ge=1)] | UnsetType = UNSET
    service_ms: Number | UnsetType = UNSET
    jitter: Annotated[float, Meta(ge=0, le=3)] | UnsetType = UNSET


class ChannelsOverrides(Struct, frozen=True, forbid_unknown_fields=True):
    """By channel name (CHANNEL_NAMES); channels not mentioned keep their settings."""

    bank_a: ChannelOverrides | UnsetType = UNSET
    bank_b: ChannelOverrides | UnsetType = UNSET
    balance_fallback: ChannelOverrides | UnsetType = UNSET


class BreakerOverrides(Struct, frozen=True, forbid_unknown_fields=True):
    enabled: bool | UnsetType = UNSET
    failures: Annotated[int, Meta(ge=1)] | UnsetType = UNSET
    open_s: Annotated[float, Meta(ge=0.01)] | UnsetType = UNSET


class RiskOverrides(Struct, frozen=True, forbid_unknown_fields=True):
    false_positive_rate: Share | UnsetType = UNSET


class TimeoutsOverrides(Struct, frozen=True, forbid_unknown_fields=True):
    channel_ms: Millis | UnsetType = UNSET
    db_ms: Millis | UnsetType = UNSET


class SettleOverrides(Struct, frozen=True, forbid_unknown_fields=True):
    delay_s: Number | UnsetType = UNSET
    success_share: Share | UnsetType = UNSET


class LedgerOverrides(Struct, frozen=True, forbid_unknown_fields=True):
    commit: Literal["group", "each"] | UnsetType = UNSET
    fsync: bool | UnsetType = UNSET


class Overrides(Struct, frozen=True, forbid_unknown_fields=True):
    """A config file or a scenario's `gateway:` section."""

    profile: ProfileName | UnsetType = UNSET
    capacity: CapacityOverrides | UnsetType = UNSET
    channels: ChannelsOverrides | UnsetType = UNSET
    failover: bool | UnsetType = UNSET
    breaker: BreakerOverrides | UnsetType = UNSET
    risk: RiskOverrides | UnsetType = UNSET
    timeouts: TimeoutsOverrides | UnsetType = UNSET
    settle: SettleOverrides | UnsetType = UNSET
    ledger: LedgerOverrides | UnsetType = UNSET


OVERRIDE_FIELDS = tuple(f.name for f in structs.fields(Overrides))


class ProfileError(ValueError):
    """`field: expected …, got …` — the caller adds the file."""


def _given(section: Struct) -> dict[str, Any]:
    return {f: v for f in section.__struct_fields__ if (v := getattr(section, f)) is not UNSET}


def apply_overrides(data: Any, base: Profile | None = None) -> Profile:
    """A profile from a mapping of overrides (a config file or a scenario's `gateway:`)."""
    try:
        o = check({} if data is None else data, Overrides)
    except InputError as exc:
        raise ProfileError(f"{exc.field or 'gateway'}: {exc.reason}") from None
    if o.profile is not UNSET:
        profile = PROFILES[o.profile]
    else:
        profile = base if base is not None else DEFAULT
    if o.capacity is not UNSET:
        profile = replace(profile, capacity=replace(profile.capacity, **_given(o.capacity)))
    if o.channels is not UNSET:
        profile = replace(profile, channels=_channels(o.channels, profile))
    if o.failover is not UNSET:
        profile = replace(profile, failover=o.failover)
    if o.breaker is not UNSET:
        profile = replace(profile, breaker=replace(profile.breaker, **_given(o.breaker)))
    if o.risk is not UNSET and o.risk.false_positive_rate is not UNSET:
        profile = replace(profile, risk_false_positive_rate=o.risk.false_positive_rate)
    if o.timeouts is not UNSET:
        t = _given(o.timeouts)
        profile = replace(
            profile,
            channel_timeout_ms=t.get("channel_ms", profile.channel_timeout_ms),
            db_timeout_ms=t.get("db_ms", profile.db_timeout_ms),
        )
    if o.settle is not UNSET:
        s = _given(o.settle)
        profile = replace(
            profile,
            settle_delay_s=s.get("delay_s", profile.settle_delay_s),
            settle_success_share=s.get("success_share", profile.settle_success_share),
        )
    if o.ledger is not UNSET:
        profile = replace(profile, ledger=replace(profile.ledger, **_given(o.ledger)))
    return profile


def _channels(overrides: ChannelsOverrides, profile: Profile) -> tuple[ChannelSpec, ...]:
    result = {c.name: c for c in profile.channels}
    for name, given in _given(overrides).items():
        result[name] = replace(result[name], **_given(given))
    channels = tuple(result[n] for n in CHANNEL_NAMES if n in result)
    if not any(c.weight > 0 for c in channels):
        raise ProfileError("channels: expected at least one channel with a weight above 0")
    return channels

"""How the gateway behaves under load: capacity, channels, failover, breaker, risk, timeouts.

A profile is frozen data. `default` gives a knee one Locust core can reach; `bench` removes
every artificial cost so only the gateway's own shows. A YAML file (`--config`) or a
scenario's `gateway:` section overrides any field, validated here with the field named."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

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

PROFILES = {"default": DEFAULT, "bench": BENCH}
OVERRIDE_FIELDS = (
    "profile",
    "capacity",
    "channels",
    "failover",
    "breaker",
    "risk",
    "timeouts",
    "settle",
    "ledger",
)


class ProfileError(ValueError):
    """`field: expected …, got …` — the caller adds the file."""


def _fail(field: str, expected: str, got: Any) -> ProfileError:
    return ProfileError(f"{field}: expected {expected}, got {got!r}")


def _mapping(value: Any, field: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(field, "a mapping", value)
    for key in value:
        if key not in allowed:
            raise ProfileError(f"{field}.{key}: expected one of {', '.join(allowed)}")
    return value


def _number(
    value: Any, field: str, *, low: float = 0.0, high: float = math.inf, integer: bool = False
) -> float:
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type or not low <= value <= high:
        bounds = f"{low:g}..{high:g}" if high != math.inf else f">= {low:g}"
        raise _fail(field, f"{kind} {bounds}", value)
    return float(value)


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(field, "true or false", value)
    return value


def apply_overrides(data: Any, base: Profile | None = None) -> Profile:
    """A profile from a mapping of overrides (a config file or a scenario's `gateway:`)."""
    m = _mapping(data if data is not None else {}, "gateway", OVERRIDE_FIELDS)
    name = m.get("profile", base.name if base else "default")
    if name not in PROFILES:
        raise _fail("profile", f"one of {', '.join(PROFILES)}", name)
    profile = base if base is not None and "profile" not in m else PROFILES[name]
    if "capacity" in m:
        c = _mapping(
            m["capacity"], "capacity", ("max_inflight", "queue", "shedding", "retry_after_s")
        )
        cap = profile.capacity
        limit = c.get("max_inflight", cap.max_inflight)
        profile = replace(
            profile,
            capacity=Capacity(
                max_inflight=None
                if limit is None
                else int(_number(limit, "capacity.max_inflight", low=1, integer=True)),
                queue=int(_number(c.get("queue", cap.queue), "capacity.queue", integer=True)),
                shedding=_bool(c.get("shedding", cap.shedding), "capacity.shedding"),
                retry_after_s=int(
                    _number(
                        c.get("retry_after_s", cap.retry_after_s),
                        "capacity.retry_after_s",
                        low=0,
                        integer=True,
                    )
                ),
            ),
        )
    if "channels" in m:
        profile = replace(profile, channels=_channels(m["channels"], profile))
    if "failover" in m:
        profile = replace(profile, failover=_bool(m["failover"], "failover"))
    if "breaker" in m:
        b = _mapping(m["breaker"], "breaker", ("enabled", "failures", "open_s"))
        cur = profile.breaker
        profile = replace(
            profile,
            breaker=Breaker(
                enabled=_bool(b.get("enabled", cur.enabled), "breaker.enabled"),
                failures=int(
                    _number(
                        b.get("failures", cur.failures), "breaker.failures", low=1, integer=True
                    )
                ),
                open_s=_number(b.get("open_s", cur.open_s), "breaker.open_s", low=0.01),
            ),
        )
    if "risk" in m:
        r = _mapping(m["risk"], "risk", ("false_positive_rate",))
        profile = replace(
            profile,
            risk_false_positive_rate=_number(
                r.get("false_positive_rate", profile.risk_false_positive_rate),
                "risk.false_positive_rate",
                high=1,
            ),
        )
    if "timeouts" in m:
        t = _mapping(m["timeouts"], "timeouts", ("channel_ms", "db_ms"))
        profile = replace(
            profile,
            channel_timeout_ms=_number(
                t.get("channel_ms", profile.channel_timeout_ms), "timeouts.channel_ms", low=1
            ),
            db_timeout_ms=_number(t.get("db_ms", profile.db_timeout_ms), "timeouts.db_ms", low=1),
        )
    if "settle" in m:
        s = _mapping(m["settle"], "settle", ("delay_s", "success_share"))
        profile = replace(
            profile,
            settle_delay_s=_number(s.get("delay_s", profile.settle_delay_s), "settle.delay_s"),
            settle_success_share=_number(
                s.get("success_share", profile.settle_success_share), "settle.success_share", high=1
            ),
        )
    if "ledger" in m:
        led = _mapping(m["ledger"], "ledger", ("commit", "fsync"))
        commit = led.get("commit", profile.ledger.commit)
        if commit not in ("group", "each"):
            raise _fail("ledger.commit", "group or each", commit)
        profile = replace(
            profile,
            ledger=Ledger(
                commit=commit,
                fsync=_bool(led.get("fsync", profile.ledger.fsync), "ledger.fsync"),
            ),
        )
    return profile


def _channels(value: Any, profile: Profile) -> tuple[ChannelSpec, ...]:
    """Overrides by channel name; channels not mentioned keep their settings."""
    if not isinstance(value, dict):
        raise _fail("channels", "a mapping of channel name to settings", value)
    result = {c.name: c for c in profile.channels}
    for name, raw in value.items():
        if name not in CHANNEL_NAMES:
            raise ProfileError(f"channels.{name}: expected one of {', '.join(CHANNEL_NAMES)}")
        where = f"channels.{name}"
        c = _mapping(raw, where, ("weight", "concurrency", "service_ms", "jitter"))
        cur = result[name]
        result[name] = ChannelSpec(
            name=name,
            weight=_number(c.get("weight", cur.weight), f"{where}.weight"),
            concurrency=int(
                _number(
                    c.get("concurrency", cur.concurrency),
                    f"{where}.concurrency",
                    low=1,
                    integer=True,
                )
            ),
            service_ms=_number(c.get("service_ms", cur.service_ms), f"{where}.service_ms"),
            jitter=_number(c.get("jitter", cur.jitter), f"{where}.jitter", high=3),
        )
    channels = tuple(result[n] for n in CHANNEL_NAMES if n in result)
    if not any(c.weight > 0 for c in channels):
        raise ProfileError("channels: expected at least one channel with a weight above 0")
    return channels

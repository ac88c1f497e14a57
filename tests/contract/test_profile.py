"""Gateway profile overrides: read through their Structs, applied on top of a base, refused
in one line naming the field."""

from __future__ import annotations

from typing import Any, get_args

import msgspec
import pytest

from contract.profile import (
    BENCH,
    CHANNEL_NAMES,
    DEFAULT,
    PROFILES,
    ChannelsOverrides,
    Overrides,
    ProfileError,
    ProfileName,
    apply_overrides,
)

SECTIONS = "profile, capacity, channels, failover, breaker, risk, timeouts, settle, ledger"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (5, "gateway: expected an object, got 5"),
        ({"surprise": 1}, f"surprise: expected one of the known fields ({SECTIONS})"),
        ({"profile": "fast"}, "profile: expected one of bench, default, got 'fast'"),
        (
            {"capacity": {"size": 1}},
            "capacity.size: expected one of the known fields "
            "(max_inflight, queue, shedding, retry_after_s)",
        ),
        ({"capacity": None}, "capacity: expected an object, got null"),
        (
            {"capacity": {"max_inflight": 0}},
            "capacity.max_inflight: expected a whole number >= 1, got 0",
        ),
        ({"capacity": {"queue": 2.0}}, "capacity.queue: expected a whole number, got 2.0"),
        (
            {"capacity": {"shedding": "sometimes"}},
            "capacity.shedding: expected true or false, got 'sometimes'",
        ),
        ({"failover": "yes"}, "failover: expected true or false, got 'yes'"),
        (
            {"channels": {"bank_a": {"concurrency": 0}}},
            "channels.bank_a.concurrency: expected a whole number >= 1, got 0",
        ),
        (
            {"channels": {"bank_z": {}}},
            "channels.bank_z: expected one of the known fields (bank_a, bank_b, balance_fallback)",
        ),
        (
            {"channels": {"bank_a": {"weight": 0}, "bank_b": {"weight": 0}}},
            "channels: expected at least one channel with a weight above 0",
        ),
        (
            {"channels": {"bank_a": {"jitter": 4}}},
            "channels.bank_a.jitter: expected a number <= 3.0, got 4",
        ),
        ({"breaker": {"open_s": 0}}, "breaker.open_s: expected a number >= 0.01, got 0"),
        (
            {"risk": {"false_positive_rate": 2}},
            "risk.false_positive_rate: expected a number <= 1.0, got 2",
        ),
        ({"timeouts": {"db_ms": 0.5}}, "timeouts.db_ms: expected a number >= 1.0, got 0.5"),
        ({"settle": {"success_share": True}}, "settle.success_share: expected a number, got true"),
        (
            {"ledger": {"commit": "never"}},
            "ledger.commit: expected one of each, group, got 'never'",
        ),
    ],
)
def test_a_bad_override_is_one_line_naming_the_field(overrides: Any, message: str) -> None:
    with pytest.raises(ProfileError) as info:
        apply_overrides(overrides)
    assert str(info.value) == message


def test_no_overrides_is_the_base_or_the_default() -> None:
    assert apply_overrides(None) == DEFAULT
    assert apply_overrides({}) == DEFAULT
    assert apply_overrides({}, BENCH) == BENCH
    assert apply_overrides({"profile": "default"}, BENCH) == DEFAULT


def test_overrides_change_only_the_fields_given() -> None:
    p = apply_overrides(
        {
            "profile": "bench",
            "capacity": {"max_inflight": None, "queue": 8, "shedding": True},
            "channels": {"bank_b": {"service_ms": 120, "weight": 0}},
            "failover": False,
            "breaker": {"failures": 2},
            "risk": {"false_positive_rate": 0.5},
            "timeouts": {"channel_ms": 900},
            "settle": {"delay_s": 1},
            "ledger": {"commit": "each"},
        }
    )
    assert p.name == "bench"
    assert (p.capacity.max_inflight, p.capacity.queue, p.capacity.shedding) == (None, 8, True)
    assert p.capacity.retry_after_s == BENCH.capacity.retry_after_s
    bank_a, bank_b, fallback = p.channels
    assert bank_a == BENCH.channels[0] and fallback == BENCH.channels[2]
    assert (bank_b.service_ms, bank_b.weight, bank_b.concurrency) == (120.0, 0.0, 1_000_000)
    assert isinstance(bank_b.service_ms, float)
    assert p.failover is False
    assert (p.breaker.failures, p.breaker.open_s) == (2, BENCH.breaker.open_s)
    assert p.risk_false_positive_rate == 0.5
    assert (p.channel_timeout_ms, p.db_timeout_ms) == (900.0, BENCH.db_timeout_ms)
    assert (p.settle_delay_s, p.settle_success_share) == (1.0, BENCH.settle_success_share)
    assert (p.ledger.commit, p.ledger.fsync) == ("each", True)


def test_the_override_types_name_what_the_profiles_have() -> None:
    assert tuple(f.name for f in msgspec.structs.fields(ChannelsOverrides)) == CHANNEL_NAMES
    assert tuple(c.name for c in DEFAULT.channels) == CHANNEL_NAMES
    assert set(get_args(ProfileName)) == set(PROFILES)
    assert {f.name for f in msgspec.structs.fields(Overrides)} == set(SECTIONS.split(", "))

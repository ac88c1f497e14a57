"""The chaos soak's generator: every registered kind at least once, in overlapping windows
between the quiet head and tail, params within each kind's bounds (each fault checked by
`faults.parse_fault`, the whole scenario by the loader), the same timeline for the same seed
and another for another seed, and a kind registered later joins with no edit."""

from __future__ import annotations

import random
from typing import Any, ClassVar

import msgspec
import msgspec.inspect as mi
import pytest
import yaml

from contract.profile import CHANNEL_NAMES
from faults import REGISTRY, Kind, Params, every_kind, parse_fault
from scenarios.chaos_timeline import (
    MIN_DURATION_S,
    chaos_scenario,
    chaos_timeline,
    draw_params,
    quiet,
)
from scenarios.loader import parse_scenario
from scenarios.model import Scenario

SEEDS = (0, 1, 7, 2026, 2**40 + 3)
DURATIONS = (MIN_DURATION_S, 60.0, 600.0, 1800.0)


def _window(fault: dict[str, Any]) -> tuple[float, float]:
    return fault["start_in_s"], fault["start_in_s"] + fault["duration_s"]


@pytest.mark.parametrize("duration_s", DURATIONS)
@pytest.mark.parametrize("seed", SEEDS)
def test_every_kind_at_least_once_each_fault_valid_inside_the_faulted_span(
    seed: int, duration_s: float
) -> None:
    timeline = chaos_timeline(seed, duration_s)
    assert {f["kind"] for f in timeline} == set(REGISTRY)
    calm = quiet(duration_s)
    for fault in timeline:
        spec = parse_fault(fault, CHANNEL_NAMES)  # the kind's own rules and bounds
        assert spec.kind == fault["kind"] and spec.duration_s == fault["duration_s"]
        start, end = _window(fault)
        assert calm.head_s <= start and end <= duration_s - calm.tail_s + 1e-6, fault
        assert fault["duration_s"] > 0
    # Enough faults to churn: one for about every 15 s of the faulted span, at least one a kind.
    assert len(timeline) >= max(len(REGISTRY), (duration_s - calm.head_s - calm.tail_s) / 20)


@pytest.mark.parametrize("duration_s", DURATIONS)
@pytest.mark.parametrize("seed", SEEDS)
def test_windows_overlap(seed: int, duration_s: float) -> None:
    windows = [_window(f) for f in chaos_timeline(seed, duration_s)]
    for i, (start, end) in enumerate(windows):
        others = [w for j, w in enumerate(windows) if j != i]
        assert any(start < o_end and o_start < end for o_start, o_end in others), (i, windows)
    # Several at once somewhere: the kinds churn together, not one after the other.
    edges = sorted([(s, 1) for s, _ in windows] + [(e, -1) for _, e in windows])
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    assert most >= 3


def _bounds_hold(t: mi.Type, value: Any) -> bool:
    """The value fits the field's msgspec type, bounds included (checked here independently
    of the kind's own parse)."""
    while isinstance(t, mi.Metadata):
        enum = (t.extra_json_schema or {}).get("enum")
        if enum is not None and value not in enum:
            return False
        t = t.type
    if isinstance(t, mi.UnionType):
        return any(_bounds_hold(o, value) for o in t.types)
    if isinstance(t, mi.NoneType):
        return value is None
    if isinstance(t, mi.IntType | mi.FloatType):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if isinstance(t, mi.IntType) and not isinstance(value, int):
            return False
        return all(
            (
                t.ge is None or value >= t.ge,
                t.gt is None or value > t.gt,
                t.le is None or value <= t.le,
                t.lt is None or value < t.lt,
            )
        )
    if isinstance(t, mi.LiteralType):
        return value in t.values
    if isinstance(t, mi.VarTupleType):
        return isinstance(value, list) and len(value) >= (t.min_length or 0)
    return True


@pytest.mark.parametrize("seed", SEEDS)
def test_params_are_drawn_within_each_kinds_bounds(seed: int) -> None:
    rng = random.Random(seed)
    for kind in every_kind():
        info = mi.type_info(kind.params_type)
        assert isinstance(info, mi.StructType)
        fields = {f.name: f for f in info.fields}
        for _ in range(50):
            params = draw_params(kind, rng)
            assert set(params) <= set(fields)
            for name, value in params.items():
                assert _bounds_hold(fields[name].type, value), (kind.name, name, value)
            assert all(f.name in params for f in info.fields if f.required), (kind.name, params)


def test_params_vary_around_the_example() -> None:
    """Drawn, not copied: a numeric param of the example takes many values, from half to
    twice the example's (within the bounds)."""
    latency = REGISTRY["latency"]
    rng = random.Random(3)
    drawn = [draw_params(latency, rng) for _ in range(200)]
    ms = [p["ms"] for p in drawn]
    assert len(set(ms)) > 100
    assert 100 <= min(ms) < 130 and 300 < max(ms) <= 400
    assert {p["distribution"] for p in drawn if "distribution" in p} == {
        "fixed",
        "uniform",
        "normal",
        "lognormal",
    }


def test_the_same_seed_gives_the_same_timeline_and_another_seed_another() -> None:
    for duration_s in DURATIONS:
        first = chaos_timeline(42, duration_s)
        assert chaos_timeline(42, duration_s) == first
        assert yaml.safe_dump(chaos_scenario(42, duration_s, 200)) == yaml.safe_dump(
            chaos_scenario(42, duration_s, 200)
        )
        assert chaos_timeline(43, duration_s) != first
    timelines = {yaml.safe_dump(chaos_timeline(seed, 600)) for seed in range(20)}
    assert len(timelines) == 20


def test_the_scenario_is_one_the_loader_accepts_with_both_kinds_of_client() -> None:
    data = chaos_scenario(5, 600, 250)
    scenario = parse_scenario(data, "chaos-soak.yaml")
    assert isinstance(scenario, Scenario)
    assert scenario.load.model == "arrival-rate"
    assert [s.rate for s in scenario.load.stages] == [250]
    assert scenario.duration_s == 600
    assert len(scenario.faults) == len(data["faults"])
    # Shoppers' apps do not resolve; POS terminals always do: both kinds of client, one run.
    assert scenario.client.resolve_uncertain is False
    assert scenario.mix.shopper > 0 and scenario.mix.pos > 0
    assert parse_scenario(chaos_scenario(5, 600, 250, chaos=False), "baseline.yaml").faults == ()


def test_too_short_a_soak_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 30 s"):
        chaos_timeline(1, MIN_DURATION_S - 1)


class _DripParams(Params, frozen=True):
    drops_per_s: int = msgspec.field(default=3)
    mode: str = "tap"


class _Drip(Kind[_DripParams]):
    """A kind that does nothing, registered for one test."""

    name = "drip"
    params_type = _DripParams
    order = 5
    example: ClassVar[dict[str, Any]] = {"params": {"drops_per_s": 10}, "duration_s": 5}


def test_a_kind_registered_later_joins_the_soak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, "drip", _Drip())
    for seed in SEEDS:
        timeline = chaos_timeline(seed, 120)
        assert {f["kind"] for f in timeline} == set(REGISTRY)
        drips = [f for f in timeline if f["kind"] == "drip"]
        for fault in drips:
            parse_fault(fault, CHANNEL_NAMES)
            assert 5 <= fault["params"].get("drops_per_s", 10) <= 20

"""The fault timeline put on the gateway at second 0 (locustfiles/timeline.py, no Locust
import): a fault's window on the run's clock is its scenario window compressed by `speed`,
however late it is posted."""

from __future__ import annotations

from typing import Any

import pytest

from contract.profile import CHANNEL_NAMES
from faults import FaultSpec, parse_fault
from locustfiles.timeline import MIN_DURATION_S, fault_body, fault_window


def _spec(**fields: Any) -> FaultSpec[Any]:
    return parse_fault(fields, CHANNEL_NAMES)


def _on_the_run_clock(
    start_in_s: float, duration_s: float | None, speed: float, late_s: float
) -> tuple[float, float | None] | None:
    """The window a posted fault covers, in seconds since second 0."""
    window = fault_window(start_in_s, duration_s, speed, late_s)
    if window is None:
        return None
    start, duration = window
    return late_s + start, None if duration is None else late_s + start + duration


@pytest.mark.parametrize("speed", [1.0, 2.0, 4.0, 0.5])
@pytest.mark.parametrize("late_s", [0.0, 0.003, 0.25, 1.0])
def test_a_window_is_the_scenario_window_compressed_by_speed(speed: float, late_s: float) -> None:
    start, duration = 10.0, 6.0
    begin, end = _on_the_run_clock(start, duration, speed, late_s) or (None, None)
    assert begin == pytest.approx(start / speed)
    assert end == pytest.approx((start + duration) / speed)


@pytest.mark.parametrize("speed", [1.0, 2.0])
def test_a_fault_posted_after_its_start_begins_at_once_and_still_ends_on_time(
    speed: float,
) -> None:
    # Due at 0.5/speed, lasting 2/speed; posted 0.8 s into the run.
    late_s = 0.8
    start_in_s, duration_s = fault_window(0.5, 2.0, speed, late_s) or (None, None)
    assert start_in_s == 0.0  # at once
    assert duration_s == pytest.approx(2.5 / speed - late_s)  # shorter by what it missed
    begin, end = _on_the_run_clock(0.5, 2.0, speed, late_s) or (None, None)
    assert begin == pytest.approx(late_s)
    assert end == pytest.approx(2.5 / speed)
    spec = _spec(kind="latency", params={"ms": 5}, start_in_s=0.5, duration_s=2.0)
    body = fault_body(spec, speed, late_s)
    assert body is not None
    assert body["start_in_s"] == 0.0
    assert late_s + body["duration_s"] == pytest.approx(2.5 / speed)


def test_a_fault_whose_window_is_over_when_posted_is_not_posted() -> None:
    assert fault_window(0.0, 1.0, 2.0, 0.6) is None  # ended at 0.5 s
    assert fault_window(0.0, 1.0, 1.0, 1.0) is None  # ends just as it is posted
    spec = _spec(kind="latency", params={"ms": 5}, start_in_s=0.0, duration_s=1.0)
    assert fault_body(spec, 2.0, 0.6) is None
    # Almost over: what is left, but never shorter than the chaos API accepts.
    assert fault_window(0.0, 1.0, 1.0, 0.9995) == (0.0, MIN_DURATION_S)


def test_a_fault_without_an_end_starts_on_the_compressed_clock() -> None:
    assert fault_window(8.0, None, 2.0, 0.5) == (3.5, None)
    assert fault_window(0.0, None, 2.0, 0.5) == (0.0, None)  # already due: at once
    spec = _spec(kind="latency", params={"ms": 5}, start_in_s=8.0)
    body = fault_body(spec, 2.0, 0.5)
    assert body is not None and "duration_s" not in body


def test_the_body_carries_the_fault_and_its_compressed_window() -> None:
    spec = _spec(
        kind="error",
        params={"code": "SYSTEM_BUSY", "rate": 0.5},
        target={"route": "pay"},
        start_in_s=4.0,
        duration_s=2.0,
        seed=9,
    )
    body = fault_body(spec, 2.0, 0.25)
    assert body == {
        "kind": "error",
        "params": {"code": "SYSTEM_BUSY", "rate": 0.5},
        "target": {"route": "pay"},
        "start_in_s": pytest.approx(1.75),
        "duration_s": pytest.approx(1.0),
        "seed": 9,
    }

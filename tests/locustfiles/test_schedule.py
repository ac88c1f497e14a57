"""The open model's arithmetic: which arrivals are due when (no Locust, no gevent)."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from locustfiles.schedule import ArrivalSchedule, Ticket
from scenarios.model import Stage, rate_at

STEADY = (Stage(until_s=6, rate=150),)
SPIKE = (
    Stage(until_s=4, rate=20),
    Stage(until_s=6, rate=300, ramp="linear"),
    Stage(until_s=8, rate=300),
    Stage(until_s=9, rate=0),
    Stage(until_s=12, rate=7.5, ramp="linear"),
)


def _drain(schedule: ArrivalSchedule, wakeups: list[float]) -> list[Ticket]:
    out: list[Ticket] = []
    for now in wakeups:
        out += schedule.release(now)
    out += schedule.release(math.inf)
    return out


def _per_second(tickets: list[Ticket]) -> Counter[int]:
    return Counter(int(t.due_s) for t in tickets)


def test_a_steady_rate_puts_exactly_the_rate_in_every_second() -> None:
    tickets = _drain(ArrivalSchedule(STEADY, end_s=6), [])
    assert len(tickets) == 900
    assert _per_second(tickets) == dict.fromkeys(range(6), 150)
    assert [t.k for t in tickets] == list(range(900))
    assert tickets[0].due_s == pytest.approx(0.5 / 150)
    assert tickets[-1].due_s == pytest.approx(899.5 / 150)


def test_the_count_is_exact_however_the_wakeups_fall() -> None:
    rng = random.Random(7)
    wakeups, t = [], 0.0
    while t < 12:
        # ~1 ms ticks with jitter, and now and then a stall of a busy process.
        t += rng.choice([0.001, 0.0011, 0.0009, 0.0004, 0.03, 0.2])
        wakeups.append(t)
    jittered = _drain(ArrivalSchedule(SPIKE), wakeups)
    at_once = _drain(ArrivalSchedule(SPIKE), [])
    assert [(x.k, x.due_s) for x in jittered] == [(x.k, x.due_s) for x in at_once]
    expected = 4 * 20 + (20 + 300) / 2 * 2 + 2 * 300 + 0 + 7.5 / 2 * 3
    assert len(at_once) == round(expected)


def test_a_ticket_is_never_released_before_it_is_due() -> None:
    schedule = ArrivalSchedule(STEADY)
    for now in (0.0, 0.001, 0.0105, 0.5, 0.5, 2.25):
        for ticket in schedule.release(now):
            assert ticket.due_s <= now and ticket.released_s == now
        assert schedule.next_due_s > now


def test_fractional_rates_carry_over_seconds() -> None:
    tickets = _drain(ArrivalSchedule((Stage(until_s=4, rate=2.5),)), [])
    assert len(tickets) == 10
    assert [_per_second(tickets)[s] for s in range(4)] == [2, 3, 2, 3]  # 0.2, 0.6 | 1.0 …
    rare = _drain(ArrivalSchedule((Stage(until_s=10, rate=0.3),)), [])
    assert [round(t.due_s, 3) for t in rare] == [1.667, 5.0, 8.333]


def test_a_linear_ramp_follows_the_area_under_the_rate() -> None:
    ramp = (Stage(until_s=10, rate=100, ramp="linear"),)
    schedule = ArrivalSchedule(ramp)
    tickets = _drain(schedule, [])
    assert len(tickets) == 500  # ½ · 10 s · 100/s
    per_second = _per_second(tickets)
    for second in range(10):
        # The area under the ramp over [s, s+1) is its rate in the middle of the second.
        assert abs(per_second[second] - rate_at(ramp, second + 0.5)) <= 1
    dues = [t.due_s for t in tickets]
    assert dues == sorted(dues)


def test_expected_count_is_the_integral_of_rate_at() -> None:
    schedule = ArrivalSchedule(SPIKE)
    step = 1e-3
    area = 0.0
    for i in range(int(12 / step)):
        area += rate_at(SPIKE, (i + 0.5) * step) * step  # midpoint rule
        t = (i + 1) * step
        if i % 997 == 0:
            assert schedule.expected(t) == pytest.approx(area, rel=1e-4, abs=1e-6)
    assert schedule.total == pytest.approx(area, rel=1e-6)


def test_no_arrivals_fall_in_a_zero_rate_stage() -> None:
    tickets = _drain(ArrivalSchedule(SPIKE), [])
    assert not [t for t in tickets if 8 <= t.due_s < 9]


def test_speed_compresses_scenario_time_and_keeps_rates_per_wall_second() -> None:
    stages = (Stage(until_s=10, rate=40), Stage(until_s=20, rate=80))
    tickets = _drain(ArrivalSchedule(stages, speed=2.0), [])
    per_second = _per_second(tickets)
    assert [per_second[s] for s in range(10)] == [40] * 5 + [80] * 5
    assert max(per_second) == 9


def test_the_schedule_ends_at_the_runs_end() -> None:
    stages = (Stage(until_s=100, rate=10),)
    schedule = ArrivalSchedule(stages, end_s=3)
    tickets = _drain(schedule, [])
    assert len(tickets) == 30 and max(t.due_s for t in tickets) < 3
    assert schedule.exhausted and schedule.next_due_s == math.inf
    ramp_cut = ArrivalSchedule((Stage(until_s=10, rate=100, ramp="linear"),), end_s=5)
    assert ramp_cut.total == pytest.approx(125)  # ½ · 5 s · 50/s


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_workers_share_the_arrivals_by_slot(workers: int) -> None:
    whole = _drain(ArrivalSchedule(SPIKE), [])
    shares = [_drain(ArrivalSchedule(SPIKE, slot=s, workers=workers), []) for s in range(workers)]
    for slot, share in enumerate(shares):
        assert all(t.k % workers == slot for t in share)
    merged = sorted((t for share in shares for t in share), key=lambda t: t.k)
    assert [(t.k, t.due_s) for t in merged] == [(t.k, t.due_s) for t in whole]


def test_an_empty_or_silent_schedule_releases_nothing() -> None:
    silent = ArrivalSchedule((Stage(until_s=5, rate=0),))
    assert silent.exhausted and silent.release(100.0) == []
    assert ArrivalSchedule(STEADY, end_s=0).exhausted


def test_a_slot_outside_the_workers_is_refused() -> None:
    with pytest.raises(ValueError, match="slot"):
        ArrivalSchedule(STEADY, slot=2, workers=2)


def test_a_change_of_workers_hands_every_later_arrival_to_exactly_one_of_them() -> None:
    stages = (Stage(until_s=10, rate=100.0),)
    # Two workers from the start; at 4 s a third joins.
    schedules = [ArrivalSchedule(stages, slot=s, workers=2, end_s=10) for s in range(2)]
    before = [t.k for sch in schedules for t in sch.release(3.999)]
    switch = schedules[0].first_due_from(4.0)
    assert schedules[0].due_s(switch) >= 4.0 > schedules[0].due_s(switch - 1)
    joined = ArrivalSchedule(stages, slot=0, workers=1, end_s=10)
    schedules.append(joined)
    for slot, sch in enumerate(schedules):
        sch.reassign(slot, 3, switch)
    after = [t.k for sch in schedules for t in sch.release(10.0)]
    assert sorted(before + after) == list(range(1000))
    assert min(after) == switch and len(set(after)) == len(after)


@pytest.mark.parametrize("told_at_s", [0.5, 2.5, 3.999])
def test_a_new_split_heard_ahead_of_time_takes_effect_at_its_arrival(told_at_s: float) -> None:
    stages = (Stage(until_s=10, rate=100.0),)
    old = [ArrivalSchedule(stages, slot=s, workers=3, end_s=10) for s in range(3)]
    released = [t.k for sch in old for t in sch.release(told_at_s)]
    # Worker 2 leaves at 4 s; the other two take over from the first arrival due then (the
    # master announces a split a second ahead, so every worker hears of it before).
    switch = old[0].first_due_from(4.0)
    for slot, sch in enumerate(old[:2]):
        sch.reassign(slot, 2, switch)
    released += [t.k for t in old[2].release(3.999)]  # the leaver, until it left
    released += [t.k for sch in old[:2] for t in sch.release(10.0)]
    assert sorted(released) == list(range(1000))

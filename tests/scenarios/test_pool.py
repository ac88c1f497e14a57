"""The open model's pool: sized from the scenario's peak and its client policy's worst case,
so it never turns an arrival away; a scenario's own smaller pool is its choice."""

from __future__ import annotations

from typing import Any

import pytest
from msgspec.structs import replace

from scenarios.loader import catalogue, load_scenario, parse_scenario
from scenarios.model import ClientPolicy
from scenarios.people import (
    BACKOFF_CAP_S,
    POS_DEADLINE_S,
    WEAK_RTT_CAP_S,
    WEAK_TIMEOUT_S,
    longest_person_s,
)
from scenarios.pool import HEADROOM, SPARE_USERS, busiest_window, pool_need, pool_of


def _scenario(**fields: Any) -> Any:
    doc: dict[str, Any] = {
        "name": "overload",
        "duration_s": 30,
        "load": {"model": "arrival-rate", "stages": [{"until_s": 30, "rate": 600}]},
        "client": {"timeout_s": 3, "retry": "none"},
    }
    doc.update(fields)
    return parse_scenario(doc, "overload.yaml")


def test_a_shopper_without_retries_holds_a_user_for_the_page_and_the_payment() -> None:
    client = ClientPolicy(timeout_s=3.0)
    assert longest_person_s(client, "shopper", weak=False, retry_after_s=1) == 6.0
    # Retries with backoff: every attempt, each pause at its cap or Retry-After.
    retrying = replace(client, retry="backoff", max_retries=2)
    expected = 3 + 3 * 3 + max(0.2, 1.0) + max(0.4, 1.0)
    assert longest_person_s(retrying, "shopper", weak=False, retry_after_s=1) == expected
    assert longest_person_s(retrying, "shopper", weak=False, retry_after_s=0) == 3 + 9 + 0.6
    many = replace(client, retry="backoff", max_retries=8)
    assert longest_person_s(many, "shopper", weak=False, retry_after_s=0) == pytest.approx(
        3 + 27 + 0.2 + 0.4 + 0.8 + 1.6 + 3.2 + 3 * BACKOFF_CAP_S
    )
    # Resolving: up to the deadline, the request in flight then, and the reversal.
    careful = replace(client, resolve_uncertain=True, resolve_deadline_s=10)
    assert longest_person_s(careful, "shopper", weak=False, retry_after_s=1) == 6 + 10 + 6


def test_weak_links_and_tills_have_their_own_deadlines() -> None:
    client = ClientPolicy(timeout_s=10.0)
    weak_request = WEAK_TIMEOUT_S + WEAK_RTT_CAP_S
    assert longest_person_s(client, "shopper", weak=True, retry_after_s=1) == 2 * weak_request
    # A till always resolves: query to the deadline, then reverse, at its own deadline.
    till = 10 + POS_DEADLINE_S + client.resolve_deadline_s + 2 * POS_DEADLINE_S
    assert longest_person_s(client, "pos", weak=False, retry_after_s=1) == till
    # A refunder with nothing to refund yet buys instead: at least a shopper's time.
    assert longest_person_s(client, "refund", weak=False, retry_after_s=1) == 20.0


def test_the_pool_covers_the_busiest_stretch_at_the_worst_case_with_headroom() -> None:
    need = pool_need(_scenario())
    assert (need.peak_rate_per_s, need.longest_s) == (600, 6.0)
    assert need.users == round(600 * 6 * HEADROOM) + SPARE_USERS
    # A short spike needs only the arrivals it brings, not its rate for the whole hold.
    spike = _scenario(
        load={
            "model": "arrival-rate",
            "stages": [
                {"until_s": 10, "rate": 10},
                {"until_s": 12, "rate": 500},
                {"until_s": 30, "rate": 10},
            ],
        }
    )
    assert busiest_window(spike, 6.0) == pytest.approx(2 * 500 + 4 * 10, abs=1)
    # Time compressed by `speed` keeps the rates: the same stretch is over sooner.
    assert busiest_window(replace(spike, speed=2.0), 6.0) == pytest.approx(1 * 500 + 5 * 10)


def test_a_mix_is_weighed_by_each_kind_of_person() -> None:
    shoppers = pool_need(_scenario())
    half_tills = pool_need(_scenario(mix={"shopper": 50, "pos": 50}))
    till_s = longest_person_s(ClientPolicy(timeout_s=3.0), "pos", weak=False, retry_after_s=1)
    assert half_tills.longest_s == till_s
    expected = 0.5 * busiest_window(_scenario(), 6.0) + 0.5 * busiest_window(_scenario(), till_s)
    assert half_tills.users == pytest.approx(expected * HEADROOM + SPARE_USERS, abs=1)
    assert half_tills.users > shoppers.users


def test_a_rate_limit_in_the_timeline_lengthens_the_retry_after() -> None:
    limited = _scenario(
        client={"timeout_s": 3, "retry": "backoff", "max_retries": 1},
        faults=[{"kind": "rate_limit", "params": {"rps": 0.1}, "start_in_s": 0}],
    )
    assert pool_need(limited).longest_s == 3 + 3 + 3 + 10


def test_a_named_pool_is_kept_and_one_below_the_need_is_flagged() -> None:
    named = _scenario(
        load={"model": "arrival-rate", "max_users": 600, "stages": [{"until_s": 30, "rate": 600}]}
    )
    pool = pool_of(named)
    assert (pool.users, pool.explicit, pool.short) == (600, True, True)
    assert pool.as_json()["needed"] == pool_need(named).users
    sized = pool_of(_scenario())
    assert (sized.users, sized.explicit, sized.short) == (
        pool_need(_scenario()).users,
        False,
        False,
    )


@pytest.mark.parametrize("name", catalogue())
def test_every_catalogue_scenario_is_sized_rather_than_capped(name: str) -> None:
    scenario = load_scenario(name)
    if scenario.load.model == "arrival-rate":
        assert scenario.load.max_users is None
        assert pool_of(scenario).users >= max(s.rate or 0 for s in scenario.load.stages)

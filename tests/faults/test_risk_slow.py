"""`risk_slow` on a real gateway: a payment waits for a slow risk check; past the budget the
gateway fails open (approves) or closed (declines RISK_DECLINED, recorded and replayed); a
flapping check is slow and healthy by turns; every attempt that reaches the decision draws
its own delay; a replay keeps its stored decision."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import pytest

from faults.kinds.risk_slow import RiskSlow
from tests.mock_gateway.chaos_support import (
    AUTH,
    Chaos,
    Shop,
    fast_profile,
    payment_rows,
    settled_audit,
)
from tests.mock_gateway.conftest import StartApi
from tests.mock_gateway.fault_lifecycle import Case, Outcome, check_lifecycle
from tests.mock_gateway.support import payment_body

PROFILE = fast_profile()
BUDGET_MS = 60
SLOW = {"delay_ms": 10_000, "budget_ms": BUDGET_MS}
STRICT = {"kind": "risk_strict", "params": {"false_positive_rate": 1.0}}
SLACK_S = 1.0  # the round trip on a busy machine; far below the 10 s the check would take


def slow(**params: Any) -> dict[str, Any]:
    return {"kind": "risk_slow", "params": {**SLOW, **params}}


async def _open(start_api: StartApi, db: Path) -> Shop:
    api = await start_api(profile=PROFILE)
    return await Shop.open(api, db, PROFILE)


async def _failed_closed(shop: Shop) -> Outcome:
    """A probe: a check past its budget is a decline, recorded FAILED and replayed as such,
    answered once the budget ran out (not when the check would have)."""
    available, rows = await shop.available(), payment_rows(shop.db)
    seen = await shop.pay()
    if seen.status == 200:
        return Outcome.of(False, seen)
    assert (seen.status, seen.code) == (402, "RISK_DECLINED"), seen.body
    assert BUDGET_MS / 1000 <= seen.elapsed_s < BUDGET_MS / 1000 + SLACK_S
    payment = await shop.api.payment(seen.payment_id)
    assert (payment["status"], payment["code"]) == ("FAILED", "RISK_DECLINED")
    assert (await shop.available(), payment_rows(shop.db)) == (available, rows + 1)
    replay = await shop.pay(seen.key)
    assert (replay.status, replay.body, replay.replayed) == (402, seen.body, True)
    assert replay.markers == (), "a replay keeps its stored decision: no check, no wait"
    return Outcome.of(True, seen)


async def test_lifecycle(start_api: StartApi, db_path: Path) -> None:
    shop = await _open(start_api, db_path)
    await check_lifecycle(shop, Case("risk_slow", slow(fail="closed"), _failed_closed))


async def test_within_budget_the_payment_only_waits(start_api: StartApi, db_path: Path) -> None:
    shop = await _open(start_api, db_path)
    fault = await Chaos(shop.api).add_active(slow(delay_ms=200, budget_ms=5000))

    seen = await shop.pay()

    assert (seen.status, seen.markers) == (200, (fault["id"],)), seen.body
    assert 0.2 <= seen.elapsed_s < 0.2 + SLACK_S
    await settled_audit(shop.api)


@pytest.mark.parametrize(
    ("fail", "status"), [("open", 200), ("closed", 402)], ids=["open", "closed"]
)
async def test_past_the_budget_risk_control_is_never_heard(
    start_api: StartApi, db_path: Path, fail: str, status: int
) -> None:
    """With risk control set to decline everything, failing open still approves: the check
    that would have declined never answered, so neither it nor `risk_strict` speaks."""
    shop = await _open(start_api, db_path)
    chaos = Chaos(shop.api)
    await chaos.add_active(STRICT)
    fault = await chaos.add_active(slow(fail=fail))

    seen = await shop.pay()

    assert (seen.status, seen.markers) == (status, (fault["id"],)), seen.body
    assert BUDGET_MS / 1000 <= seen.elapsed_s < BUDGET_MS / 1000 + SLACK_S
    await settled_audit(shop.api)


async def test_a_check_in_time_still_has_its_say(start_api: StartApi, db_path: Path) -> None:
    shop = await _open(start_api, db_path)
    chaos = Chaos(shop.api)
    strict = await chaos.add_active(STRICT)
    fault = await chaos.add_active(slow(delay_ms=50, budget_ms=5000))

    seen = await shop.pay()

    assert (seen.status, seen.code) == (402, "RISK_DECLINED"), seen.body
    assert seen.markers == (fault["id"], strict["id"])
    await settled_audit(shop.api)


async def test_a_flapping_check_is_slow_and_healthy_by_turns(
    start_api: StartApi, db_path: Path
) -> None:
    shop = await _open(start_api, db_path)
    chaos = Chaos(shop.api)
    every_s = 1.0
    fault = await chaos.add_active(slow(fail="closed", flap_every_s=every_s))
    started = (await chaos.event(fault["id"]))["started_unix"]

    async def pay_in_turn(turn: int) -> tuple[int | None, tuple[str, ...]]:
        """A payment sent in the middle of the turn, decided before the turn ends."""
        await asyncio.sleep(max(0.0, started + (turn + 0.5) * every_s - time.time()))
        seen = await shop.pay()
        assert time.time() < started + (turn + 1) * every_s, "the machine is too busy"
        return seen.status, seen.markers

    assert await pay_in_turn(0) == (402, (fault["id"],))
    assert await pay_in_turn(1) == (200, ())
    assert await pay_in_turn(2) == (402, (fault["id"],))
    await settled_audit(shop.api)


JITTERED = {"delay_ms": 100, "jitter_ms": 100, "budget_ms": 100, "fail": "closed"}
SEED = 9


def _delay_ms(seed: int, key: str, attempt: int) -> float:
    """The delay the n-th attempt of a key draws: a seeded stream of its own."""
    name = key if attempt == 0 else f"{key}#{attempt}"
    params = RiskSlow().parse(JITTERED)
    return params.delay_s(random.Random(f"{seed}:risk_slow:{name}")) * 1000


async def test_each_attempt_draws_its_own_check(start_api: StartApi, db_path: Path) -> None:
    """A payment refused after its risk check (every channel down) is not recorded; tried
    again under its key it reaches the decision again and waits a check of its own."""
    shop = await _open(start_api, db_path)
    chaos = Chaos(shop.api)
    key = next(
        k
        for k in (f"flaky-{n}" for n in range(1000))
        if _delay_ms(SEED, k, 0) < 90 and _delay_ms(SEED, k, 1) > 110
    )
    fault = await chaos.add_active({**slow(**JITTERED), "seed": SEED})
    outages = [
        await chaos.add_active({"kind": "channel_outage", "params": {"channel": name}})
        for name in ("bank_a", "bank_b", "balance_fallback")
    ]

    first = await shop.pay(key)
    assert (first.status, first.code) == (502, "CHANNEL_UNAVAILABLE"), first.body
    assert fault["id"] in first.markers, "the check was in time, then no channel answered"
    for outage in outages:
        await chaos.remove(outage["id"])
    second = await shop.pay(key)
    assert (second.status, second.code, second.replayed) == (402, "RISK_DECLINED", False)
    assert second.markers == (fault["id"],)
    replay = await shop.pay(key)
    assert (replay.status, replay.body, replay.replayed, replay.markers) == (
        402,
        second.body,
        True,
        (),
    )
    await settled_audit(shop.api)


BAD = [
    ({"delay_ms": 70_000}, "params.delay_ms", "expected a whole number <= 60000, got 70000"),
    ({"delay_ms": 1.5}, "params.delay_ms", "expected a whole number, got 1.5"),
    ({"delay_ms": 10, "fail": "maybe"}, "params.fail", "expected one of closed, open, got 'maybe'"),
    ({"delay_ms": 10, "budget_ms": 0}, "params.budget_ms", "expected a whole number >= 1, got 0"),
    ({"delay_ms": 10, "flap_every_s": 0}, "params.flap_every_s", "expected a number > 0.0, got 0"),
    ({"budget_ms": 10}, "params.delay_ms", "required"),
]


@pytest.mark.parametrize(("params", "field", "reason"), BAD)
async def test_a_bad_spec_is_400_naming_the_field(
    start_api: StartApi, params: dict[str, Any], field: str, reason: str
) -> None:
    api = await start_api(profile=PROFILE)
    body = {"kind": "risk_slow", "params": params}

    reply = await api.post("/_chaos/faults", body=body, headers=AUTH)

    assert (reply.status, reply.error["code"]) == (400, "INVALID_REQUEST"), reply.body
    assert reply.error["fields"] == [{"field": field, "reason": reason}]
    assert await Chaos(api).faults() == []


async def test_a_slow_decision_never_lets_two_payments_spend_the_same_credit(
    start_api: StartApi, db_path: Path
) -> None:
    """Two payments of one account, each within its available credit but not both, decided
    while risk control takes its time: the credit is checked again after the wait, so one
    is charged and the other declined (a chaos soak overdrew an account by 3,712 when the
    only check came before the wait)."""
    shop = await _open(start_api, db_path)
    limit = (await shop.api.account(shop.user))["txn_limit"]
    while (available := await shop.available()) >= 2 * limit:  # spend down to one payment's worth
        spent = await shop.api.pay(
            f"k-spend-{available}", payment_body(shop.user, shop.shop, limit)
        )
        assert spent.status == 200, spent.body
    await Chaos(shop.api).add_active(slow(delay_ms=300, budget_ms=5000))
    amount = available // 2 + 1
    body = payment_body(shop.user, shop.shop, amount)

    first, second = await asyncio.gather(
        shop.api.pay("k-slow-a", body), shop.api.pay("k-slow-b", body)
    )

    assert sorted([first.status, second.status]) == [200, 402], (first.body, second.body)
    declined = first if first.status == 402 else second
    assert declined.error["code"] == "INSUFFICIENT_CREDIT"
    assert await shop.available() == available - amount
    await settled_audit(shop.api)

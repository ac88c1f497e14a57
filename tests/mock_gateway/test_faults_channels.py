"""`channel_outage` in each mode, failover across channels, and bank_a's circuit breaker."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.mock_gateway.chaos_support import (
    AMOUNT,
    Chaos,
    Seen,
    Shop,
    fast_profile,
    metric,
    payment_rows,
    settled_audit,
)
from tests.mock_gateway.conftest import StartApi
from tests.mock_gateway.fault_lifecycle import Case, Outcome, check_lifecycle
from tests.mock_gateway.support import Api, wait_until

PROFILE = fast_profile()
SLOW_MS = 150
PAYMENTS = 200
BANK_A_SHARE = 0.6  # weights 60/40 between bank_a and bank_b
BREAKER = "paystorm_channel_breaker_state"
# Hundreds of payments queue for bank_b's slots: none may time out on a slow machine.
PATIENT = {"channel_ms": 10_000}
OPEN, CLOSED = 2, 0


def outage(mode: str, **params: object) -> dict[str, object]:
    return {"kind": "channel_outage", "params": {"channel": "bank_a", "mode": mode, **params}}


async def _failed_over(shop: Shop) -> Outcome:
    seen = await shop.pay(shop.key_on("bank_a"))
    assert seen.status == 200, seen.body
    channel = seen.json()["channel"]
    assert channel in ("bank_a", "bank_b", "balance_fallback")
    return Outcome.of(channel != "bank_a", seen)


async def _hung(shop: Shop) -> Outcome:
    seen = await shop.pay(shop.key_on("bank_a"))
    if seen.status == 200:
        assert seen.json()["channel"] == "bank_a"
        return Outcome.of(False, seen)
    # A channel that did not answer may have charged: no failover, the payment is PENDING.
    assert (seen.status, seen.code) == (504, "CHANNEL_TIMEOUT"), seen.body
    assert seen.elapsed_s >= PROFILE.channel_timeout_ms / 1000
    payment = await shop.api.payment(seen.payment_id)
    assert (payment["status"], payment["channel"]) == ("PENDING", "bank_a")
    return Outcome.of(True, seen)


async def _slowed(shop: Shop) -> Outcome:
    seen = await shop.pay(shop.key_on("bank_a"))
    assert seen.status == 200, seen.body
    assert seen.json()["channel"] == "bank_a"
    return Outcome.of(bool(seen.markers) and seen.elapsed_s >= SLOW_MS / 1000, seen)


CASES = [
    Case("error", outage("error"), _failed_over),
    Case("blackhole", outage("blackhole"), _hung),
    Case("slow", outage("slow", slow_ms=SLOW_MS), _slowed),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_lifecycle(start_api: StartApi, db_path: Path, case: Case) -> None:
    api = await start_api(profile=PROFILE)
    await check_lifecycle(await Shop.open(api, db_path, PROFILE), case)


async def _many(shop: Shop, users: list[str]) -> list[Seen]:
    keys = [shop.key("many") for _ in range(PAYMENTS)]
    return list(
        await asyncio.gather(*(shop.pay(k, users[n % len(users)]) for n, k in enumerate(keys)))
    )


async def _users(api: Api, count: int) -> list[str]:
    need = PAYMENTS * AMOUNT // count + AMOUNT
    fit = [
        a["user_id"]
        for a in await api.accounts()
        if a["status"] == "ACTIVE" and a["available_credit"] >= need and a["txn_limit"] >= AMOUNT
    ]
    assert len(fit) >= count
    return fit[:count]


async def _total_available(api: Api, users: list[str]) -> int:
    return sum([await api.available(u) for u in users])


async def test_with_failover_bank_a_down_costs_almost_nothing(
    start_api: StartApi, db_path: Path
) -> None:
    profile = fast_profile(breaker={"open_s": 0.3}, timeouts=PATIENT)
    api = await start_api(profile=profile)
    shop = await Shop.open(api, db_path, profile)
    users = await _users(api, 10)
    fault = await Chaos(api).add_active(outage("error"))

    paid = await _many(shop, users)

    on_a = [s for s in paid if shop.primary(s.key) == "bank_a"]
    assert 0.45 <= len(on_a) / PAYMENTS <= 0.75, "the 60/40 split is by key"
    succeeded = [s for s in paid if s.status == 200]
    assert len(succeeded) >= 0.99 * PAYMENTS, {s.code for s in paid}
    assert {s.json()["channel"] for s in succeeded} <= {"bank_b", "balance_fallback"}
    for s in on_a:
        assert s.markers in ((), (fault["id"],))  # unmarked once the breaker skips bank_a
    assert await metric(api, BREAKER, channel="bank_a") == OPEN

    # After the outage, a probe through bank_a succeeds and the breaker closes again.
    await Chaos(api).clear()

    async def closed() -> bool:
        await shop.pay(shop.key_on("bank_a"))
        return await metric(api, BREAKER, channel="bank_a") == CLOSED

    await wait_until(closed, "bank_a's breaker to close")
    assert (await shop.pay(shop.key_on("bank_a"))).json()["channel"] == "bank_a"
    await settled_audit(api)


async def test_breaker_opens_after_consecutive_failures_and_closes_on_a_good_probe(
    start_api: StartApi, db_path: Path
) -> None:
    open_s = 0.5
    profile = fast_profile(breaker={"failures": 3, "open_s": open_s})
    api = await start_api(profile=profile)
    shop = await Shop.open(api, db_path, profile)
    chaos = Chaos(api)
    fault = await chaos.add_active(outage("error"))

    async def via_bank_a() -> tuple[Seen, float]:
        seen = await shop.pay(shop.key_on("bank_a"))
        assert seen.status == 200, seen.body
        return seen, await metric(api, BREAKER, channel="bank_a")

    for _ in range(2):
        seen, state = await via_bank_a()
        assert (seen.json()["channel"], seen.markers, state) == ("bank_b", (fault["id"],), CLOSED)
    seen, state = await via_bank_a()
    opened = time.monotonic()
    assert (seen.markers, state) == ((fault["id"],), OPEN), "the third failure in a row opens it"
    seen, state = await via_bank_a()
    if time.monotonic() - opened < open_s:  # else it may already be half-open
        assert (seen.json()["channel"], seen.markers, state) == ("bank_b", (), OPEN), "not tried"

    # Half-open after open_s: one probe goes to bank_a; still down, so open again.
    await asyncio.sleep(open_s * 1.2)
    seen, state = await via_bank_a()
    assert (seen.json()["channel"], seen.markers, state) == ("bank_b", (fault["id"],), OPEN)

    await chaos.clear()
    await asyncio.sleep(open_s * 1.2)
    seen, state = await via_bank_a()
    assert (seen.json()["channel"], seen.markers, state) == ("bank_a", (), CLOSED)
    await settled_audit(api)


async def test_without_failover_bank_a_share_fails_and_nothing_is_recorded(
    start_api: StartApi, db_path: Path
) -> None:
    profile = fast_profile(failover=False, timeouts=PATIENT)
    api = await start_api(profile=profile)
    shop = await Shop.open(api, db_path, profile)
    users = await _users(api, 10)
    available, rows = await _total_available(api, users), payment_rows(db_path)
    fault = await Chaos(api).add_active(outage("error"))

    paid = await _many(shop, users)

    failed = [s for s in paid if s.status != 200]
    assert 0.45 <= len(failed) / PAYMENTS <= 0.75, len(failed)
    assert {shop.primary(s.key) for s in failed} == {"bank_a"}
    assert all(shop.primary(s.key) == "bank_b" for s in paid if s.status == 200)
    for s in failed:
        assert (s.status, s.code) == (502, "CHANNEL_UNAVAILABLE"), s.body
        assert "payment_id" not in s.json()["error"], "a refused payment is not recorded"
        assert s.markers in ((), (fault["id"],))
    assert any(s.markers for s in failed)
    succeeded = PAYMENTS - len(failed)
    assert payment_rows(db_path) == rows + succeeded
    assert await _total_available(api, users) == available - succeeded * AMOUNT
    await settled_audit(api)

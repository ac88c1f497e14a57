"""`db_stall`: a real exclusive lock on the ledger file. Payments during it answer 504
DB_TIMEOUT after `timeouts.db_ms`, and are committed once the stall ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.mock_gateway.chaos_support import (
    AMOUNT,
    Chaos,
    Shop,
    db_locked,
    fast_profile,
    settled_audit,
)
from tests.mock_gateway.conftest import StartApi
from tests.mock_gateway.fault_lifecycle import Case, Outcome, check_lifecycle
from tests.mock_gateway.support import wait_until

PROFILE = fast_profile()
DB_TIMEOUT_S = PROFILE.db_timeout_ms / 1000
STALL = {"kind": "db_stall", "params": {"hold_ms": 60_000}}


async def _locked(shop: Shop) -> None:
    async def locked() -> bool:
        return db_locked(shop.db)

    await wait_until(locked, "the stall to take the lock")


async def _unlocked(shop: Shop) -> None:
    async def free() -> bool:
        return not db_locked(shop.db)

    await wait_until(free, "the stall to let go of the lock")


async def _stalled(shop: Shop) -> Outcome:
    seen = await shop.pay()
    if seen.status == 200:
        return Outcome.of(False, seen)
    assert (seen.status, seen.code) == (504, "DB_TIMEOUT"), seen.body
    assert seen.elapsed_s >= DB_TIMEOUT_S
    assert (await shop.api.payment(seen.payment_id))["status"] == "PENDING"
    return Outcome.of(True, seen)


async def test_lifecycle(start_api: StartApi, db_path: Path) -> None:
    api = await start_api(profile=PROFILE)
    case = Case("db_stall", STALL, _stalled, ready=_locked, gone=_unlocked)
    await check_lifecycle(await Shop.open(api, db_path, PROFILE), case)


async def test_payments_during_a_stall_time_out_then_commit(
    start_api: StartApi, db_path: Path
) -> None:
    api = await start_api(profile=PROFILE)
    shop = await Shop.open(api, db_path, PROFILE)
    available = await shop.available()
    chaos = Chaos(api)
    fault = await chaos.add_active(STALL)
    await _locked(shop)

    stalled = await asyncio.gather(*(shop.pay() for _ in range(4)))

    for s in stalled:
        assert (s.status, s.code, s.markers) == (504, "DB_TIMEOUT", (fault["id"],)), s.body
        assert s.json()["error"]["retryable"] is True
        assert s.elapsed_s >= DB_TIMEOUT_S
        # The outcome is unknown to the client, and really undecided: not yet durable.
        assert (await api.payment(s.payment_id))["status"] == "PENDING"
        twin = await shop.pay(s.key)
        assert (twin.status, twin.code) == (409, "IDEMPOTENCY_IN_PROGRESS")
    assert db_locked(db_path)

    await chaos.remove(fault["id"])
    await _unlocked(shop)

    async def committed() -> bool:
        statuses = [(await api.payment(s.payment_id))["status"] for s in stalled]
        return statuses == ["SUCCEEDED"] * len(stalled)

    await wait_until(committed, "the stalled payments to commit")
    for s in stalled:
        replay = await shop.pay(s.key)
        assert (replay.status, replay.replayed) == (200, True)
        assert replay.json() == await api.payment(s.payment_id)
    assert await shop.available() == available - len(stalled) * AMOUNT
    await settled_audit(api)


async def test_a_repeated_stall_holds_and_lets_go_in_turn(
    start_api: StartApi, db_path: Path
) -> None:
    api = await start_api(profile=PROFILE)
    spec = {"kind": "db_stall", "params": {"hold_ms": 150, "every_ms": 300}}
    await Chaos(api).add_active(spec)
    shop = await Shop.open(api, db_path, PROFILE)
    for _ in range(2):  # locked, free, locked again, free again
        await _locked(shop)
        await _unlocked(shop)
    await Chaos(api).clear()
    await settled_audit(api)

"""Faults at the edge, before the request is handled: latency, timeout, error."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.mock_gateway.chaos_support import (
    AMOUNT,
    Chaos,
    Shop,
    fast_profile,
    gauge_is,
    ledger_locked,
    payment_rows,
    settled_audit,
    start_paying,
)
from tests.mock_gateway.conftest import StartApi
from tests.mock_gateway.fault_lifecycle import Case, Outcome, check_lifecycle
from tests.mock_gateway.support import PAY

LATENCY_MS = 150
TIMEOUT_MS = 100
PROFILE = fast_profile()


async def _latency(shop: Shop) -> Outcome:
    seen = await shop.pay()
    assert seen.status == 200, seen.body
    assert (await shop.api.payment(seen.payment_id))["status"] == "SUCCEEDED"
    return Outcome.of(bool(seen.markers) and seen.elapsed_s >= LATENCY_MS / 1000, seen)


async def _timeout(shop: Shop) -> Outcome:
    seen = await shop.pay()
    if seen.status == 200:
        return Outcome.of(False, seen)
    assert (seen.status, seen.code) == (504, "CHANNEL_TIMEOUT"), seen.body
    assert seen.elapsed_s >= TIMEOUT_MS / 1000
    assert (await shop.api.payment(seen.payment_id))["status"] == "PENDING"
    return Outcome.of(True, seen)


async def _error(shop: Shop) -> Outcome:
    rows = payment_rows(shop.db)
    seen = await shop.pay()
    if seen.status == 200:
        return Outcome.of(False, seen)
    assert (seen.status, seen.code) == (500, "INTERNAL_ERROR"), seen.body
    assert seen.json()["error"]["retryable"] is True
    assert payment_rows(shop.db) == rows, "an injected error records nothing"
    return Outcome.of(True, seen)


PAY_ONLY = {"route": "pay"}
CASES = [
    Case(
        "latency", {"kind": "latency", "params": {"ms": LATENCY_MS}, "target": PAY_ONLY}, _latency
    ),
    Case(
        "timeout", {"kind": "timeout", "params": {"ms": TIMEOUT_MS}, "target": PAY_ONLY}, _timeout
    ),
    Case(
        "error", {"kind": "error", "params": {"code": "INTERNAL_ERROR"}, "target": PAY_ONLY}, _error
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_lifecycle(start_api: StartApi, db_path: Path, case: Case) -> None:
    api = await start_api(profile=PROFILE)
    await check_lifecycle(await Shop.open(api, db_path, PROFILE), case)


async def test_targets_narrow_a_fault_to_one_user(start_api: StartApi, db_path: Path) -> None:
    api = await start_api(profile=PROFILE)
    shop = await Shop.open(api, db_path, PROFILE)
    spec = {"kind": "latency", "params": {"ms": LATENCY_MS}, "target": {"user_id": shop.user}}
    fault = await Chaos(api).add_active(spec)

    slowed = await shop.pay()
    spared = await shop.pay(user=shop.other)

    assert slowed.markers == (fault["id"],)
    assert slowed.elapsed_s >= LATENCY_MS / 1000
    assert (slowed.status, spared.status) == (200, 200)
    assert spared.markers == ()
    await settled_audit(api)


async def test_timeout_on_a_query_hangs_then_answers_504(
    start_api: StartApi, db_path: Path
) -> None:
    api = await start_api(profile=PROFILE)
    shop = await Shop.open(api, db_path, PROFILE)
    paid = await shop.pay()
    fault = await Chaos(api).add_active(
        {"kind": "timeout", "params": {"ms": TIMEOUT_MS}, "target": {"route": "query"}}
    )

    reply = await api.get(f"{PAY}/{paid.payment_id}")
    assert (reply.status, reply.error["code"]) == (504, "CHANNEL_TIMEOUT")
    assert reply.headers["X-Paystorm-Fault"] == fault["id"]
    # Only queries: payments still go through, and the paid one is untouched.
    assert (await shop.pay()).status == 200
    await Chaos(api).clear()
    assert (await api.payment(paid.payment_id))["status"] == "SUCCEEDED"
    await settled_audit(api)


@pytest.mark.parametrize(
    ("code", "status", "retry_after"),
    [("SYSTEM_BUSY", 503, True), ("RATE_LIMITED", 429, True), ("CHANNEL_UNAVAILABLE", 502, False)],
)
async def test_injected_errors_are_the_catalogue_ones(
    start_api: StartApi, db_path: Path, code: str, status: int, retry_after: bool
) -> None:
    api = await start_api(profile=PROFILE)
    shop = await Shop.open(api, db_path, PROFILE)
    available, rows = await shop.available(), payment_rows(db_path)
    fault = await Chaos(api).add_active(
        {"kind": "error", "params": {"code": code}, "target": {"route": "pay"}}
    )

    seen = await shop.pay()

    assert (seen.status, seen.code, seen.markers) == (status, code, (fault["id"],))
    assert ("Retry-After" in seen.headers) is retry_after
    assert payment_rows(db_path) == rows
    await Chaos(api).clear()
    # Nothing was stored for the key: the retry is a new payment, not a replay.
    again = await shop.pay(seen.key)
    assert (again.status, again.replayed) == (200, False)
    assert await shop.available() == available - AMOUNT
    await settled_audit(api)


async def test_min_inflight_arms_a_fault_only_under_load(
    start_api: StartApi, db_path: Path
) -> None:
    profile = fast_profile(timeouts={"db_ms": 30_000})
    api = await start_api(profile=profile)
    shop = await Shop.open(api, db_path, profile)
    fault = await Chaos(api).add_active(
        {
            "kind": "error",
            "params": {"code": "SYSTEM_BUSY"},
            "target": {"route": "pay", "min_inflight": 3},
        }
    )

    alone = await shop.pay()
    async with ledger_locked(db_path):
        stuck = start_paying(shop, 3)
        await gauge_is(api, "paystorm_admission_inflight", 3)
        loaded = await shop.pay()

    assert (alone.status, alone.markers) == (200, ())
    assert (loaded.status, loaded.code, loaded.markers) == (503, "SYSTEM_BUSY", (fault["id"],))
    assert [s.status for s in await asyncio.gather(*stuck)] == [200] * 3
    await settled_audit(api)


async def test_an_injected_decline_decides_a_new_payment_and_spares_replays(
    start_api: StartApi, db_path: Path
) -> None:
    """A decline is a decision about a new payment: recorded, so its replay answers the same,
    and a payment captured before the fault, replayed during it, still gets its stored
    success (a resolving client told "declined" there would leave the person charged)."""
    api = await start_api(profile=PROFILE)
    shop = await Shop.open(api, db_path, PROFILE)
    captured = await shop.pay()
    fault = await Chaos(api).add_active(
        {"kind": "error", "params": {"code": "RISK_DECLINED"}, "target": {"route": "pay"}}
    )

    declined = await shop.pay()
    replayed = await shop.pay(declined.key)
    stored = await shop.pay(captured.key)

    assert (declined.status, declined.code, declined.markers) == (
        402,
        "RISK_DECLINED",
        (fault["id"],),
    )
    assert (await api.payment(declined.payment_id))["status"] == "FAILED"
    assert (replayed.status, replayed.code, replayed.replayed) == (402, "RISK_DECLINED", True)
    assert replayed.body == declined.body
    assert (stored.status, stored.replayed, stored.markers) == (200, True, ())
    await Chaos(api).clear()
    await settled_audit(api)

"""Admission capacity: overflow shed at once with 503 SYSTEM_BUSY when shedding is on, queued
when it is off; the `capacity` fault shrinks the limit while it lasts.

Payments are held in flight by a real write lock the test takes on the ledger (with a long
`db_ms`), so what is in flight and queued is known without relying on speed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.mock_gateway.chaos_support import (
    Chaos,
    Shop,
    fast_profile,
    gauge_is,
    ledger_locked,
    metric,
    payment_rows,
    settled_audit,
    start_paying,
)
from tests.mock_gateway.conftest import StartApi
from tests.mock_gateway.fault_lifecycle import Case, Outcome, check_lifecycle

SHEDDING = {
    "capacity": {"max_inflight": 2, "queue": 2, "shedding": True},
    "timeouts": {"db_ms": 30_000},
}


async def _limit(shop: Shop) -> Outcome:
    return Outcome(await metric(shop.api, "paystorm_admission_limit") == 2)


async def test_lifecycle(start_api: StartApi, db_path: Path) -> None:
    profile = fast_profile()
    api = await start_api(profile=profile)
    case = Case(
        "capacity", {"kind": "capacity", "params": {"max_inflight": 2}}, _limit, marked=False
    )
    await check_lifecycle(await Shop.open(api, db_path, profile), case)


async def test_overflow_is_shed_at_once_with_retry_after(
    start_api: StartApi, db_path: Path
) -> None:
    profile = fast_profile(**SHEDDING)
    api = await start_api(profile=profile)
    shop = await Shop.open(api, db_path, profile)
    rows = payment_rows(db_path)

    async with ledger_locked(db_path):
        admitted = start_paying(shop, 2)
        await gauge_is(api, "paystorm_admission_inflight", 2)
        queued = start_paying(shop, 2)
        await gauge_is(api, "paystorm_admission_queued", 2)

        shed = await asyncio.gather(*start_paying(shop, 8))  # answered while the others still wait

        assert not any(t.done() for t in admitted + queued)
    for s in shed:
        assert (s.status, s.code, s.markers) == (503, "SYSTEM_BUSY", ()), s.body
        assert s.headers["Retry-After"] == "1"
        assert s.json()["error"]["retryable"] is True
    assert await metric(api, "paystorm_admission_shed_total") == 8
    done = await asyncio.gather(*admitted, *queued)
    assert [s.status for s in done] == [200] * 4
    assert payment_rows(db_path) == rows + 4, "shed requests record nothing"
    await settled_audit(api)


async def test_without_shedding_everyone_waits_and_completes(
    start_api: StartApi, db_path: Path
) -> None:
    service_ms = 100
    profile = fast_profile(
        capacity={"max_inflight": 2, "shedding": False},
        channels={"bank_a": {"service_ms": service_ms}, "bank_b": {"service_ms": service_ms}},
    )
    api = await start_api(profile=profile)
    shop = await Shop.open(api, db_path, profile)

    started = time.perf_counter()
    paid = await asyncio.gather(*start_paying(shop, 12))
    elapsed = time.perf_counter() - started

    assert [s.status for s in paid] == [200] * 12
    assert elapsed >= 6 * service_ms / 1000, "two at a time: six rounds of service"
    assert await metric(api, "paystorm_admission_shed_total") == 0
    await settled_audit(api)


async def test_capacity_fault_shrinks_the_limit_while_active(
    start_api: StartApi, db_path: Path
) -> None:
    profile = fast_profile(
        capacity={"max_inflight": 50, "queue": 50, "shedding": True}, timeouts={"db_ms": 30_000}
    )
    api = await start_api(profile=profile)
    shop = await Shop.open(api, db_path, profile)
    chaos = Chaos(api)
    assert await metric(api, "paystorm_admission_limit") == 50
    fault = await chaos.add_active({"kind": "capacity", "params": {"max_inflight": 1, "queue": 1}})
    assert await metric(api, "paystorm_admission_limit") == 1

    async with ledger_locked(db_path):
        first = start_paying(shop, 1)
        await gauge_is(api, "paystorm_admission_inflight", 1)
        waiting = start_paying(shop, 1)
        await gauge_is(api, "paystorm_admission_queued", 1)
        shed = await asyncio.gather(*start_paying(shop, 3))
        for s in shed:
            assert (s.status, s.code, s.markers) == (503, "SYSTEM_BUSY", (fault["id"],))
        assert await metric(api, "paystorm_faults_injected_total", kind="capacity") == 3

        # Once it ends, the whole capacity is back: the one waiting and newcomers all go in.
        await chaos.remove(fault["id"])
        assert await metric(api, "paystorm_admission_limit") == 50
        more = start_paying(shop, 3)
        await gauge_is(api, "paystorm_admission_inflight", 5)
        assert await metric(api, "paystorm_admission_queued") == 0

    done = await asyncio.gather(*first, *waiting, *more)
    assert [s.status for s in done] == [200] * 5
    await settled_audit(api)

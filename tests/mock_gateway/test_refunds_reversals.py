"""Refunds and reversals: status moves, credit comes back exactly once, idempotency holds."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.mock_gateway.support import Api, db_counts, payment_body

AMOUNT = 10_000


async def _paid(api: Api, key: str = "k-pay", amount: int = AMOUNT) -> tuple[str, str, int]:
    """(payment_id, user_id, available credit before the payment)."""
    user = await api.payer(amount)
    available = await api.available(user)
    reply = await api.pay(key, payment_body(user, await api.shop(), amount))
    assert reply.status == 200, reply.body
    return reply.json()["payment_id"], user, available


async def test_partial_then_full_refund(api: Api) -> None:
    payment_id, user, available = await _paid(api)

    first = await api.refund(payment_id, "r-1", 3_000)
    assert first.status == 200, first.body
    refund = first.json()
    assert refund["refund_id"].startswith("ref_")
    assert (refund["payment_id"], refund["amount"]) == (payment_id, 3_000)
    assert refund["payment"]["status"] == "PARTIALLY_REFUNDED"
    assert refund["payment"]["refunded"] == 3_000
    assert await api.payment(payment_id) == refund["payment"]
    assert await api.available(user) == available - AMOUNT + 3_000

    second = await api.refund(payment_id, "r-2", 7_000)
    assert second.status == 200, second.body
    payment = second.json()["payment"]
    assert (payment["status"], payment["refunded"], payment["amount"]) == (
        "REFUNDED",
        AMOUNT,
        AMOUNT,
    )
    assert (await api.payment(payment_id))["status"] == "REFUNDED"
    assert await api.available(user) == available
    assert (await api.audit())["ok"] is True


async def test_over_refund_is_refused_and_changes_nothing(api: Api, db_path: Path) -> None:
    payment_id, user, _ = await _paid(api)
    assert (await api.refund(payment_id, "r-1", 6_000)).status == 200
    available = await api.available(user)
    counts = db_counts(db_path)

    reply = await api.refund(payment_id, "r-2", 4_001)

    assert reply.status == 409
    assert reply.error["code"] == "REFUND_EXCEEDS_PAYMENT"
    assert reply.error["payment_id"] == payment_id
    assert reply.fields == ["amount"]
    assert "4000 fen" in reply.error["fields"][0]["reason"]
    assert await api.available(user) == available
    assert db_counts(db_path) == counts
    # The refused key was not spent: the right amount with it now works.
    assert (await api.refund(payment_id, "r-2", 4_000)).json()["payment"]["status"] == "REFUNDED"
    again = await api.refund(payment_id, "r-3", 1)
    assert (again.status, again.error["code"]) == (409, "PAYMENT_NOT_REFUNDABLE")
    assert again.fields == ["payment_id"]
    assert (await api.audit())["ok"] is True


async def test_refund_of_a_failed_payment_is_refused(api: Api, db_path: Path) -> None:
    user = await api.find_account(lambda a: a["status"] == "FROZEN")
    declined = await api.pay("k-frozen", payment_body(user["user_id"], await api.shop(), 100))
    assert declined.status == 403
    payment_id = declined.error["payment_id"]
    counts = db_counts(db_path)

    reply = await api.refund(payment_id, "r-1", 100)

    assert reply.status == 409
    assert reply.error["code"] == "PAYMENT_NOT_REFUNDABLE"
    assert reply.fields == ["payment_id"]
    assert "FAILED" in reply.error["fields"][0]["reason"]
    assert db_counts(db_path) == counts
    assert (await api.payment(payment_id))["status"] == "FAILED"


async def test_refund_replay_and_mismatch(api: Api, db_path: Path) -> None:
    payment_id, user, _ = await _paid(api)
    other_id, _, _ = await _paid(api, key="k-other")
    first = await api.refund(payment_id, "r-1", 2_500)
    assert first.status == 200
    available = await api.available(user)
    counts = db_counts(db_path)

    replay = await api.refund(payment_id, "r-1", 2_500)
    assert (replay.status, replay.body, replay.replayed) == (200, first.body, True)

    for pid, amount in ((payment_id, 2_000), (other_id, 2_500)):
        mismatch = await api.refund(pid, "r-1", amount)
        assert mismatch.status == 422
        assert mismatch.error["code"] == "IDEMPOTENCY_MISMATCH"

    assert await api.available(user) == available
    assert db_counts(db_path) == counts
    assert (await api.payment(payment_id))["refunded"] == 2_500


async def test_concurrent_refunds_never_exceed_the_amount(api: Api) -> None:
    payment_id, user, available = await _paid(api)
    replies = await asyncio.gather(
        *(api.refund(payment_id, f"r-{n}", AMOUNT // 4) for n in range(10))
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [200] * 4 + [409] * 6
    payment = await api.payment(payment_id)
    assert (payment["status"], payment["refunded"]) == ("REFUNDED", AMOUNT)
    assert await api.available(user) == available
    assert (await api.audit())["ok"] is True


async def test_reverse_releases_credit_once(api: Api, db_path: Path) -> None:
    payment_id, user, available = await _paid(api)
    assert await api.available(user) == available - AMOUNT

    first = await api.reverse(payment_id)
    assert first.status == 200
    reversed_: dict[str, Any] = first.json()
    assert reversed_["status"] == "REVERSED"
    assert reversed_["payment_id"] == payment_id
    assert await api.payment(payment_id) == reversed_
    assert await api.available(user) == available
    counts = db_counts(db_path)

    again = await api.reverse(payment_id)
    assert again.status == 200
    assert again.json() == reversed_
    assert await api.available(user) == available
    assert db_counts(db_path) == counts

    refund = await api.refund(payment_id, "r-after-reverse", 1)
    assert (refund.status, refund.error["code"]) == (409, "PAYMENT_NOT_REFUNDABLE")
    assert (await api.audit())["ok"] is True


async def test_concurrent_reversals_release_once(api: Api) -> None:
    payment_id, user, available = await _paid(api)
    replies = await asyncio.gather(*(api.reverse(payment_id) for _ in range(8)))
    assert {r.status for r in replies} == {200}
    assert {r.json()["status"] for r in replies} == {"REVERSED"}
    assert await api.available(user) == available
    assert (await api.audit())["ok"] is True


async def test_reverse_after_partial_refund_releases_only_the_rest(api: Api) -> None:
    payment_id, user, available = await _paid(api)
    assert (await api.refund(payment_id, "r-1", 4_000)).status == 200
    assert await api.available(user) == available - AMOUNT + 4_000

    reply = await api.reverse(payment_id)

    assert reply.status == 200
    payment = reply.json()
    assert (payment["status"], payment["refunded"]) == ("REVERSED", 4_000)
    assert await api.available(user) == available
    assert (await api.audit())["ok"] is True


async def test_reverse_of_a_failed_or_refunded_payment_changes_nothing(
    api: Api, db_path: Path
) -> None:
    payment_id, user, available = await _paid(api)
    assert (await api.refund(payment_id, "r-1", AMOUNT)).status == 200
    frozen = await api.find_account(lambda a: a["status"] == "FROZEN")
    declined = await api.pay("k-frozen", payment_body(frozen["user_id"], await api.shop(), 100))
    counts = db_counts(db_path)

    for pid, status in ((payment_id, "REFUNDED"), (declined.error["payment_id"], "FAILED")):
        before = await api.payment(pid)
        reply = await api.reverse(pid)
        assert reply.status == 200
        assert reply.json() == before
        assert before["status"] == status

    assert db_counts(db_path) == counts
    assert await api.available(user) == available
    assert (await api.audit())["ok"] is True


async def test_refund_racing_a_reverse_settles_the_credit_once(api: Api) -> None:
    payment_id, user, available = await _paid(api)
    refund, reverse = await asyncio.gather(
        api.refund(payment_id, "r-race", AMOUNT), api.reverse(payment_id)
    )
    assert reverse.status == 200
    assert refund.status in (200, 409)
    final = await api.payment(payment_id)
    assert final["status"] == ("REFUNDED" if refund.status == 200 else "REVERSED")
    assert await api.available(user) == available
    assert (await api.audit())["ok"] is True

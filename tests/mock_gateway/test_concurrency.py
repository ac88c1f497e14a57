"""Many payments at once on one account: never overdrawn, and no false declines."""

from __future__ import annotations

import asyncio
import random

from tests.mock_gateway.support import Api, payment_body

PAYMENTS = 40


async def _busy_account(api: Api) -> tuple[str, int]:
    account = await api.find_account(
        lambda a: (
            a["status"] == "ACTIVE"
            and a["available_credit"] >= 20_000
            and a["available_credit"] // 20 <= a["txn_limit"]
        )
    )
    return account["user_id"], account["available_credit"]


async def test_equal_payments_stop_exactly_where_the_credit_ends(api: Api) -> None:
    user, available = await _busy_account(api)
    shop = await api.shop()
    amount = available // 25 + 1  # 40 of them are well over the credit; 24 fit
    replies = await asyncio.gather(
        *(api.pay(f"k-{n}", payment_body(user, shop, amount)) for n in range(PAYMENTS))
    )

    ok = [r for r in replies if r.status == 200]
    declined = [r for r in replies if r.status != 200]
    assert {r.error["code"] for r in declined} == {"INSUFFICIENT_CREDIT"}
    assert {r.status for r in declined} == {402}
    assert len(ok) == available // amount
    assert len({r.json()["payment_id"] for r in ok}) == len(ok)
    left = await api.available(user)
    assert left == available - len(ok) * amount
    assert 0 <= left < amount, "a decline while the credit still covered the amount"
    audit = await api.audit()
    assert audit["ok"] is True, audit


async def test_mixed_payments_never_overdraw(api: Api) -> None:
    user, available = await _busy_account(api)
    shop = await api.shop()
    rng = random.Random(3)
    amounts = [rng.randint(1, available // 12) for _ in range(PAYMENTS)]
    assert sum(amounts) > available
    replies = await asyncio.gather(
        *(api.pay(f"k-{n}", payment_body(user, shop, a)) for n, a in enumerate(amounts))
    )

    paid = sum(a for a, r in zip(amounts, replies, strict=True) if r.status == 200)
    refused = [a for a, r in zip(amounts, replies, strict=True) if r.status != 200]
    assert {r.error["code"] for r in replies if r.status != 200} == {"INSUFFICIENT_CREDIT"}
    assert paid <= available
    left = await api.available(user)
    assert left == available - paid >= 0
    # Credit only went down during the burst, so each refused amount exceeds what is left.
    assert refused and all(a > left for a in refused)
    for r in replies:
        pid = r.json()["payment_id"] if r.status == 200 else r.error["payment_id"]
        assert (await api.payment(pid))["status"] == ("SUCCEEDED" if r.status == 200 else "FAILED")
    assert (await api.audit())["ok"] is True

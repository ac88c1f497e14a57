"""Faults in the payment's decisions: `risk_strict`, `merchant_unsupported` (a share of
merchants, or named ones) and `rate_limit` (global, per user)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.mock_gateway.chaos_support import (
    AMOUNT,
    Chaos,
    Seen,
    Shop,
    fast_profile,
    payment_rows,
    settled_audit,
)
from tests.mock_gateway.conftest import StartApi
from tests.mock_gateway.fault_lifecycle import Case, Outcome, check_lifecycle
from tests.mock_gateway.support import payment_body

PROFILE = fast_profile()


def _declined(code: str, status: int) -> Callable[[Shop], Any]:
    """A probe: a decline is a FAILED payment, recorded and replayed; no credit is taken."""

    async def probe(shop: Shop) -> Outcome:
        available = await shop.available()
        seen = await shop.pay()
        if seen.status == 200:
            return Outcome.of(False, seen)
        assert (seen.status, seen.code) == (status, code), seen.body
        payment = await shop.api.payment(seen.payment_id)
        assert (payment["status"], payment["code"]) == ("FAILED", code)
        assert await shop.available() == available
        replay = await shop.pay(seen.key)
        assert (replay.status, replay.body, replay.replayed) == (status, seen.body, True)
        return Outcome.of(True, seen)

    return probe


def _limited(seen: Seen, rows_before: int, db: Path) -> bool:
    if seen.status == 200:
        return False
    assert (seen.status, seen.code) == (429, "RATE_LIMITED"), seen.body
    assert int(seen.headers["Retry-After"]) >= 1
    assert payment_rows(db) == rows_before, "a limited request records nothing"
    return True


async def _global_limit(shop: Shop) -> Outcome:
    first = await shop.pay()
    assert first.status == 200, "the bucket starts with one token"
    rows = payment_rows(shop.db)
    second = await shop.pay(user=shop.other)
    return Outcome.of(_limited(second, rows, shop.db), first, second)


async def _user_limit(shop: Shop) -> Outcome:
    first = await shop.pay()
    assert first.status == 200
    rows = payment_rows(shop.db)
    second = await shop.pay()
    hit = _limited(second, rows, shop.db)
    other = await shop.pay(user=shop.other)
    assert (other.status, other.markers) == (200, ()), "each user has a bucket of their own"
    return Outcome.of(hit, first, second, other)


def _cases(shop: Shop) -> dict[str, Case]:
    pay = {"route": "pay"}
    cases = [
        Case(
            "risk_strict",
            {"kind": "risk_strict", "params": {"false_positive_rate": 1.0}},
            _declined("RISK_DECLINED", 402),
        ),
        Case(
            "merchant_share",
            {"kind": "merchant_unsupported", "params": {"share": 1.0}},
            _declined("MERCHANT_NOT_SUPPORTED", 403),
        ),
        Case(
            "merchant_ids",
            {"kind": "merchant_unsupported", "params": {"merchant_ids": [shop.shop]}},
            _declined("MERCHANT_NOT_SUPPORTED", 403),
        ),
        Case(
            "rate_global",
            {"kind": "rate_limit", "params": {"rps": 0.01}, "target": pay},
            _global_limit,
        ),
        Case(
            "rate_user",
            {"kind": "rate_limit", "params": {"rps": 0.01, "per": "user"}, "target": pay},
            _user_limit,
        ),
    ]
    return {c.id: c for c in cases}


CASE_IDS = ["risk_strict", "merchant_share", "merchant_ids", "rate_global", "rate_user"]


@pytest.mark.parametrize("case_id", CASE_IDS)
async def test_lifecycle(start_api: StartApi, db_path: Path, case_id: str) -> None:
    api = await start_api(profile=PROFILE)
    shop = await Shop.open(api, db_path, PROFILE)
    await check_lifecycle(shop, _cases(shop)[case_id])


async def _accepting(shop: Shop) -> list[str]:
    return [m["merchant_id"] for m in await shop.api.merchants() if m["accepts_credit"]]


async def test_named_merchants_refuse_and_others_accept(start_api: StartApi, db_path: Path) -> None:
    api = await start_api(profile=PROFILE)
    shop = await Shop.open(api, db_path, PROFILE)
    refusing, accepting = (await _accepting(shop))[:2]
    fault = await Chaos(api).add_active(
        {"kind": "merchant_unsupported", "params": {"merchant_ids": [refusing]}}
    )

    refused = await api.pay("k-r", payment_body(shop.user, refusing, AMOUNT))
    accepted = await api.pay("k-a", payment_body(shop.user, accepting, AMOUNT))

    assert (refused.status, refused.error["code"]) == (403, "MERCHANT_NOT_SUPPORTED")
    assert refused.headers["X-Paystorm-Fault"] == fault["id"]
    assert accepted.status == 200
    assert "X-Paystorm-Fault" not in accepted.headers
    await settled_audit(api)


async def test_a_share_of_merchants_refuses_for_everyone(
    start_api: StartApi, db_path: Path
) -> None:
    api = await start_api(profile=PROFILE)
    shop = await Shop.open(api, db_path, PROFILE)
    merchants = await _accepting(shop)
    await Chaos(api).add_active(
        {"kind": "merchant_unsupported", "params": {"share": 0.5}, "seed": 3}
    )

    refused: dict[str, set[bool]] = {}
    for n, merchant in enumerate(merchants):
        for user in (shop.user, shop.other):
            reply = await api.pay(f"k-{n}-{user}", payment_body(user, merchant, AMOUNT))
            assert reply.status in (200, 403), reply.body
            refused.setdefault(merchant, set()).add(reply.status == 403)

    assert all(len(outcomes) == 1 for outcomes in refused.values()), "broken for everyone"
    share = sum(1 for outcomes in refused.values() if True in outcomes) / len(merchants)
    assert 0.2 <= share <= 0.8, share
    await settled_audit(api)


async def test_error_can_target_one_merchant(start_api: StartApi, db_path: Path) -> None:
    api = await start_api(profile=PROFILE)
    shop = await Shop.open(api, db_path, PROFILE)
    buggy, fine = (await _accepting(shop))[:2]
    fault = await Chaos(api).add_active(
        {"kind": "error", "params": {"code": "INTERNAL_ERROR"}, "target": {"merchant_id": buggy}}
    )

    failed = await api.pay("k-buggy", payment_body(shop.user, buggy, AMOUNT))
    paid = await api.pay("k-fine", payment_body(shop.user, fine, AMOUNT))

    assert (failed.status, failed.headers["X-Paystorm-Fault"]) == (500, fault["id"])
    assert paid.status == 200
    await settled_audit(api)

"""POST /v1/payments: success, idempotent replay, mismatch, in-flight twins, declines; the
read endpoints that show what a payment did."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from contract.profile import DEFAULT
from tests.mock_gateway.conftest import StartApi
from tests.mock_gateway.support import (
    ACCOUNTS,
    MERCHANTS,
    PAY,
    Api,
    db_counts,
    payment_body,
    wait_until,
)

AMOUNT = 12_345
CHANNEL_TIMEOUT_S = DEFAULT.channel_timeout_ms / 1000


async def test_payment_succeeds_and_shows_everywhere(api: Api) -> None:
    user = await api.payer(AMOUNT)
    shop = await api.shop()
    before = await api.account(user)

    reply = await api.pay("k-1", payment_body(user, shop, AMOUNT, order_id="o-1"))

    assert reply.status == 200
    assert not reply.replayed
    payment = reply.json()
    assert payment["payment_id"].startswith("pay_")
    assert payment["status"] == "SUCCEEDED"
    assert payment["amount"] == AMOUNT
    assert payment["refunded"] == 0
    assert payment["currency"] == "CNY"
    assert (payment["user_id"], payment["merchant_id"]) == (user, shop)
    assert payment["order_id"] == "o-1"
    assert payment["code"] is None
    assert payment["channel"]
    assert payment["created_at"] == payment["updated_at"]
    assert payment["created_at"].endswith("Z")

    assert await api.payment(payment["payment_id"]) == payment
    after = await api.account(user)
    assert after["available_credit"] == before["available_credit"] - AMOUNT
    assert after["credit_limit"] == before["credit_limit"]
    assert (await api.audit())["ok"] is True


async def test_every_response_has_its_own_request_id(api: Api) -> None:
    user = await api.payer(AMOUNT)
    replies = [
        await api.get("/healthz"),
        await api.get("/metrics"),
        await api.pay("k-rid", payment_body(user, await api.shop(), AMOUNT)),
        await api.post(PAY, key="k-bad", data=b"{"),
        await api.get(f"{PAY}/pay_nope"),
        await api.get("/v1/nothing-here"),
        await api.call("DELETE", PAY),
        await api.get("/_admin/audit"),
    ]
    # Api.call already asserts the header is present and matches error.request_id.
    assert [r.status for r in replies] == [200, 200, 200, 400, 404, 404, 405, 401]
    ids = {r.headers["X-Request-Id"] for r in replies}
    assert len(ids) == len(replies)


async def test_replay_returns_the_stored_response_byte_for_byte(api: Api, db_path: Path) -> None:
    user = await api.payer(AMOUNT)
    body = payment_body(user, await api.shop(), AMOUNT)
    first = await api.pay("k-replay", body)
    assert first.status == 200
    available = await api.available(user)
    counts = db_counts(db_path)

    # Key order and whitespace do not make a different request.
    reordered = dict(reversed(list(body.items())))
    for again in (body, reordered):
        replay = await api.pay("k-replay", again)
        assert replay.status == first.status
        assert replay.body == first.body
        assert replay.replayed
        assert replay.headers["X-Request-Id"] != first.headers["X-Request-Id"]

    assert await api.available(user) == available, "a replay must not charge again"
    assert db_counts(db_path) == counts


async def test_same_key_different_body_is_a_mismatch(api: Api, db_path: Path) -> None:
    user = await api.payer(AMOUNT + 1)
    shop = await api.shop()
    first = await api.pay("k-mm", payment_body(user, shop, AMOUNT))
    assert first.status == 200
    available = await api.available(user)
    counts = db_counts(db_path)

    for changed in (
        payment_body(user, shop, AMOUNT + 1),
        payment_body(user, shop, AMOUNT, order_id="another"),
    ):
        reply = await api.pay("k-mm", changed)
        assert reply.status == 422
        assert reply.error["code"] == "IDEMPOTENCY_MISMATCH"
        assert reply.error["retryable"] is False
        assert reply.error["payment_id"] == first.json()["payment_id"]

    assert await api.available(user) == available
    assert db_counts(db_path) == counts
    # The original is still what the key replays.
    assert (await api.pay("k-mm", payment_body(user, shop, AMOUNT))).body == first.body


async def test_a_key_of_a_seeded_payment_is_refused_not_a_server_error(
    patient_api: Api, db_path: Path
) -> None:
    # Seeded prior purchases carry keys too; a client that happens to send one must get a
    # clear answer, and must not poison the group commit it lands in.
    api = patient_api
    conn = sqlite3.connect(db_path)
    (seeded_key, seeded_id) = conn.execute(
        "SELECT idempotency_key, payment_id FROM payments LIMIT 1"
    ).fetchone()
    conn.close()
    user = await api.payer(3 * AMOUNT)
    shop = await api.shop()
    available = await api.available(user)

    lock = sqlite3.connect(db_path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        # The writer takes the first payment and waits on the lock; the next two queue up
        # behind it and are committed together in one batch.
        blocker = asyncio.ensure_future(api.pay("k-blocker", payment_body(user, shop, AMOUNT)))
        await wait_until(
            lambda: _available_at_most(api, user, available - AMOUNT), "the blocker to hold"
        )
        clash = asyncio.ensure_future(api.pay(seeded_key, payment_body(user, shop, AMOUNT)))
        good = asyncio.ensure_future(api.pay("k-innocent", payment_body(user, shop, AMOUNT)))
        await wait_until(
            lambda: _available_at_most(api, user, available - 2 * AMOUNT), "the batch to queue"
        )
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    blocker_reply, clash_reply, good_reply = await asyncio.gather(blocker, clash, good)

    assert clash_reply.status == 422, clash_reply.body
    assert clash_reply.error["code"] == "IDEMPOTENCY_MISMATCH"
    assert clash_reply.error["payment_id"] == seeded_id
    assert (blocker_reply.status, good_reply.status) == (200, 200), good_reply.body
    assert await api.available(user) == available - 2 * AMOUNT
    assert (await api.audit())["ok"] is True


async def _available_at_most(api: Api, user: str, expected: int) -> bool:
    return await api.available(user) <= expected


async def _available_is(api: Api, user: str, expected: int) -> bool:
    return await api.available(user) == expected


async def test_twin_in_flight_is_told_to_wait(patient_api: Api, db_path: Path) -> None:
    api = patient_api
    user = await api.payer(AMOUNT)
    shop = await api.shop()
    body = payment_body(user, shop, AMOUNT)
    available = await api.available(user)

    lock = sqlite3.connect(db_path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # a real write lock: the ledger writer must wait for it
    try:
        first = asyncio.ensure_future(api.pay("k-twin", body))
        # The credit is held in memory before the commit: that is how we know it is in flight.
        await wait_until(
            lambda: _available_is(api, user, available - AMOUNT), "the first payment to hold"
        )
        for twin_body in (body, payment_body(user, shop, AMOUNT + 1)):
            twin = await api.pay("k-twin", twin_body)
            assert twin.status == 409
            assert twin.error["code"] == "IDEMPOTENCY_IN_PROGRESS"
            assert twin.error["retryable"] is True
            # When to come back: once the first has had its channel's time.
            assert 1 <= int(twin.headers["Retry-After"]) <= CHANNEL_TIMEOUT_S
        assert not first.done()
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    done = await first
    assert done.status == 200
    assert done.json()["status"] == "SUCCEEDED"
    replay = await api.pay("k-twin", body)
    assert (replay.status, replay.body, replay.replayed) == (200, done.body, True)
    assert await api.available(user) == available - AMOUNT
    assert (await api.audit())["ok"] is True


async def test_ledger_timeout_commits_nothing_and_the_key_stays_usable(
    start_api: StartApi, db_path: Path
) -> None:
    api = await start_api(busy_timeout_ms=100)
    user = await api.payer(AMOUNT)
    body = payment_body(user, await api.shop(), AMOUNT)
    available = await api.available(user)
    counts = db_counts(db_path)

    lock = sqlite3.connect(db_path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        timed_out = await api.pay("k-slow", body)
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    assert timed_out.status == 504
    assert timed_out.error["code"] == "DB_TIMEOUT"
    assert timed_out.error["retryable"] is True
    assert await api.available(user) == available, "the hold must be released"
    assert db_counts(db_path) == counts

    retried = await api.pay("k-slow", body)
    assert retried.status == 200
    assert not retried.replayed
    assert await api.available(user) == available - AMOUNT
    assert (await api.audit())["ok"] is True


# -- legitimate declines -------------------------------------------------------------------


async def _decline_case(api: Api, code: str) -> tuple[str, str, int]:
    """(user, merchant, amount) that must be declined with `code`."""
    accounts = await api.accounts()
    accepting = await api.shop(accepts_credit=True)
    if code == "INSUFFICIENT_CREDIT":
        a = next(
            a
            for a in accounts
            if a["status"] == "ACTIVE"
            and a["available_credit"] + 1 <= a["txn_limit"]
            and a["available_credit"] < 5_000
        )
        return a["user_id"], accepting, a["available_credit"] + 1
    if code == "TXN_LIMIT_EXCEEDED":
        a = next(
            a
            for a in accounts
            if a["status"] == "ACTIVE" and a["txn_limit"] < a["available_credit"]
        )
        return a["user_id"], accepting, a["txn_limit"] + 1
    if code == "ACCOUNT_FROZEN":
        a = next(a for a in accounts if a["status"] == "FROZEN" and a["available_credit"] > 100)
        return a["user_id"], accepting, 100
    assert code == "MERCHANT_NOT_SUPPORTED"
    return await api.payer(100), await api.shop(accepts_credit=False), 100


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("INSUFFICIENT_CREDIT", 402),
        ("TXN_LIMIT_EXCEEDED", 402),
        ("ACCOUNT_FROZEN", 403),
        ("MERCHANT_NOT_SUPPORTED", 403),
    ],
)
async def test_legitimate_decline_is_recorded_and_replayed(
    start_api: StartApi, db_path: Path, code: str, status: int
) -> None:
    # The first merchants all accept credit-pay; enough of them for a few that do not.
    api = await start_api(merchants=100)
    user, shop, amount = await _decline_case(api, code)
    available = await api.available(user)
    body = payment_body(user, shop, amount)

    declined = await api.pay(f"k-{code}", body)

    assert declined.status == status
    err = declined.error
    assert err["code"] == code
    assert err["retryable"] is False
    assert err["message"] and err["message_zh"] and err["action"]
    payment = await api.payment(err["payment_id"])
    assert payment["status"] == "FAILED"
    assert payment["code"] == code
    assert payment["amount"] == amount
    assert payment["channel"] is None
    assert await api.available(user) == available, "a decline holds no credit"

    counts = db_counts(db_path)
    replay = await api.pay(f"k-{code}", body)
    assert (replay.status, replay.body) == (declined.status, declined.body)
    assert replay.replayed
    assert db_counts(db_path) == counts
    assert (await api.audit())["ok"] is True


# -- reads ---------------------------------------------------------------------------------


async def test_get_account_merchant_and_health(api: Api) -> None:
    account = await api.account("u000001")
    assert account["user_id"] == "u000001"
    assert 0 <= account["available_credit"] <= account["credit_limit"]
    assert account["txn_limit"] <= account["credit_limit"]
    assert account["status"] in ("ACTIVE", "FROZEN")

    merchant = await api.merchant("m00001")
    assert merchant["merchant_id"] == "m00001"
    assert merchant["name"]
    assert isinstance(merchant["accepts_credit"], bool)

    health = (await api.get("/healthz")).json()
    assert health["status"] == "ok"
    assert (health["accounts"], health["merchants"], health["seed"]) == (ACCOUNTS, MERCHANTS, 1)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/v1/accounts/u{ACCOUNTS + 1:06d}", "user_id"),
        ("/v1/accounts/nobody", "user_id"),
        (f"/v1/merchants/m{MERCHANTS + 1:05d}", "merchant_id"),
        (f"{PAY}/pay_0000000000", "payment_id"),
    ],
)
async def test_get_unknown_is_404_naming_the_field(api: Api, path: str, field: str) -> None:
    reply = await api.get(path)
    assert reply.status == 404
    assert reply.error["code"] == "NOT_FOUND"
    assert reply.fields == [field]

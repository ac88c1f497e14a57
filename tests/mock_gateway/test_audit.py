"""GET /_admin/audit: guarded by the token, and each invariant really can fail."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.mock_gateway.conftest import StartApi
from tests.mock_gateway.support import TOKEN, Api, payment_body

CHECKS = {
    "conservation", "accounts_within_limits", "accounts_match_ledger", "payments_balanced",
    "payments_match_status", "refunds_within_captured", "ledger_append_only",
    "one_payment_per_key", "replays_match_payments", "closed_loop",
}  # fmt: skip


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer wrong", "Basic dDp0", f"Bearer {TOKEN}x", TOKEN],
)
async def test_audit_refuses_without_the_token(api: Api, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    reply = await api.get("/_admin/audit", headers=headers)
    assert reply.status == 401
    assert reply.error["code"] == "UNAUTHORIZED"
    assert "checks" not in reply.json()


async def test_an_empty_admin_token_refuses_everyone(start_api: StartApi) -> None:
    api = await start_api(admin_token="")
    for authorization in ("Bearer ", "Bearer", ""):
        reply = await api.get("/_admin/audit", headers={"Authorization": authorization})
        assert reply.status == 401


async def test_audit_answers_every_invariant(api: Api) -> None:
    user = await api.payer(1_000)
    assert (await api.pay("k-1", payment_body(user, await api.shop(), 1_000))).status == 200

    audit = await api.audit()

    assert set(audit) == {"ok", "checks", "pending"}
    assert audit["ok"] is True
    assert audit["pending"] == 0
    assert set(audit["checks"]) == CHECKS
    for name, check in audit["checks"].items():
        assert set(check) == {"ok", "detail"}, name
        assert check["ok"] is True, (name, check)
    api.contract.validate_named("Audit", audit)
    conservation = audit["checks"]["conservation"]["detail"]
    assert conservation["merchant_receivables"] > 0
    assert (
        conservation["available"] + conservation["holds"] + conservation["merchant_receivables"]
        == conservation["seeded_total"]
    )


def _some(conn: sqlite3.Connection, sql: str) -> str:
    row = conn.execute(sql).fetchone()
    assert row is not None, sql
    return str(row[0])


# Each corruption, done behind the gateway's back, and the checks it must turn false.
CORRUPTIONS: list[tuple[str, str, set[str]]] = [
    ("used drifts from the ledger",
     "UPDATE accounts SET used = used + 1 WHERE user_id = '{user}'",
     {"conservation", "accounts_match_ledger"}),
    ("used above the limit",
     "UPDATE accounts SET credit_limit = used - 1 WHERE user_id = '{user}'",
     {"accounts_within_limits"}),
    ("one-sided ledger entry",
     "INSERT INTO ledger (payment_id, book, amount, kind, created_at) "
     "VALUES ('{payment}', 'merchant:m00001', -5, 'capture', 'now')",
     {"payments_balanced", "conservation"}),
    ("status without its entries",
     "UPDATE payments SET status = 'REVERSED' WHERE payment_id = '{payment}'",
     {"payments_match_status"}),
    ("refund total disagrees",
     "UPDATE payments SET refunded = amount + 1 WHERE payment_id = '{payment}'",
     {"refunds_within_captured"}),
    ("append-only trigger dropped", "DROP TRIGGER ledger_no_delete", {"ledger_append_only"}),
    ("replay points at another payment",
     "UPDATE idempotency SET payment_id = 'pay_seed_{user}' WHERE key = 'k-1'",
     {"replays_match_payments"}),
    ("a payment left pending",
     "UPDATE payments SET status = 'PENDING' WHERE payment_id = '{payment}'",
     {"closed_loop"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("sql", "broken"), [c[1:] for c in CORRUPTIONS], ids=[c[0] for c in CORRUPTIONS]
)
async def test_audit_sees_a_corrupted_ledger(
    api: Api, db_path: Path, sql: str, broken: set[str]
) -> None:
    user = await api.find_account(
        lambda a: a["status"] == "ACTIVE" and 1_000 <= a["available_credit"] < a["credit_limit"]
    )
    uid = user["user_id"]
    pay = await api.pay("k-1", payment_body(uid, await api.shop(), 1_000))
    assert pay.status == 200
    assert (await api.audit())["ok"] is True

    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute(sql.format(user=uid, payment=pay.json()["payment_id"]))
    finally:
        conn.close()
    audit = await api.audit()

    assert audit["ok"] is False
    failed = {name for name, check in audit["checks"].items() if not check["ok"]}
    assert broken <= failed, audit["checks"]
    if "closed_loop" in broken:
        assert audit["pending"] == 1


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger SET amount = amount + 1",
        "UPDATE ledger SET kind = 'x' WHERE entry_id = 1",
        "DELETE FROM ledger",
        "DELETE FROM ledger WHERE entry_id = 1",
    ],
)
async def test_the_ledger_refuses_update_and_delete(api: Api, db_path: Path, sql: str) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        before = conn.execute("SELECT COUNT(*), SUM(amount) FROM ledger").fetchone()
        assert before[0] > 0
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
        assert conn.execute("SELECT COUNT(*), SUM(amount) FROM ledger").fetchone() == before
    finally:
        conn.close()
    assert (await api.audit())["ok"] is True

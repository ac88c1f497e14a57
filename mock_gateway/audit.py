"""The ledger's invariants (Jepsen's bank test is the model), checked on one read snapshot."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

# Expected net user-book amount per payment, by status: what the user still owes for it.
_EXPECTED_NET_SQL = """
CASE p.status
    WHEN 'SUCCEEDED' THEN p.amount - p.refunded
    WHEN 'PARTIALLY_REFUNDED' THEN p.amount - p.refunded
    WHEN 'REFUNDED' THEN 0
    WHEN 'PENDING' THEN p.amount
    ELSE 0
END
"""


def _check(ok: bool, detail: Any) -> dict[str, Any]:
    return {"ok": ok, "detail": detail}


def run_audit(db_path: Path) -> dict[str, Any]:
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("BEGIN")  # one snapshot for every check
        checks = {
            "conservation": _conservation(conn),
            "accounts_within_limits": _within_limits(conn),
            "accounts_match_ledger": _accounts_match_ledger(conn),
            "payments_balanced": _payments_balanced(conn),
            "payments_match_status": _payments_match_status(conn),
            "refunds_within_captured": _refunds_within_captured(conn),
            "ledger_append_only": _append_only(conn),
            "one_payment_per_key": _one_payment_per_key(conn),
            "replays_match_payments": _replays_match(conn),
        }
        pending = conn.execute("SELECT COUNT(*) FROM payments WHERE status='PENDING'").fetchone()[0]
        checks["closed_loop"] = _check(pending == 0, {"pending": pending})
        conn.execute("COMMIT")
    finally:
        conn.close()
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks, "pending": pending}


def _conservation(conn: sqlite3.Connection) -> dict[str, Any]:
    total, available = conn.execute(
        "SELECT COALESCE(SUM(credit_limit), 0), COALESCE(SUM(credit_limit - used), 0) FROM accounts"
    ).fetchone()
    receivables = -conn.execute(
        "SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE book LIKE 'merchant:%'"
    ).fetchone()[0]
    holds = -conn.execute(
        "SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE book LIKE 'hold:%'"
    ).fetchone()[0]
    detail = {
        "seeded_total": total,
        "available": available,
        "holds": holds,
        "merchant_receivables": receivables,
    }
    return _check(available + holds + receivables == total, detail)


def _within_limits(conn: sqlite3.Connection) -> dict[str, Any]:
    bad = conn.execute(
        "SELECT user_id, used, credit_limit FROM accounts WHERE used < 0 OR used > credit_limit "
        "LIMIT 10"
    ).fetchall()
    return _check(not bad, {"violations": [list(r) for r in bad]})


def _accounts_match_ledger(conn: sqlite3.Connection) -> dict[str, Any]:
    bad = conn.execute(
        """
        SELECT a.user_id, a.used, COALESCE(l.total, 0)
        FROM accounts a LEFT JOIN (
            SELECT substr(book, 6) AS user_id, SUM(amount) AS total
            FROM ledger WHERE book LIKE 'user:%' GROUP BY book
        ) l ON l.user_id = a.user_id
        WHERE a.used != COALESCE(l.total, 0)
        LIMIT 10
        """
    ).fetchall()
    return _check(not bad, {"mismatches": [list(r) for r in bad]})


def _payments_balanced(conn: sqlite3.Connection) -> dict[str, Any]:
    bad = conn.execute(
        "SELECT payment_id, SUM(amount) FROM ledger GROUP BY payment_id HAVING SUM(amount) != 0 "
        "LIMIT 10"
    ).fetchall()
    return _check(not bad, {"unbalanced": [list(r) for r in bad]})


def _payments_match_status(conn: sqlite3.Connection) -> dict[str, Any]:
    bad = conn.execute(
        f"""
        SELECT p.payment_id, p.status, COALESCE(l.net, 0), {_EXPECTED_NET_SQL} AS expected
        FROM payments p LEFT JOIN (
            SELECT payment_id, SUM(amount) AS net FROM ledger
            WHERE book LIKE 'user:%' GROUP BY payment_id
        ) l ON l.payment_id = p.payment_id
        WHERE COALESCE(l.net, 0) != {_EXPECTED_NET_SQL}
        LIMIT 10
        """
    ).fetchall()
    return _check(not bad, {"mismatches": [list(r) for r in bad]})


def _refunds_within_captured(conn: sqlite3.Connection) -> dict[str, Any]:
    bad = conn.execute(
        """
        SELECT p.payment_id, p.amount, p.refunded, COALESCE(r.total, 0)
        FROM payments p LEFT JOIN (
            SELECT payment_id, SUM(amount) AS total FROM refunds GROUP BY payment_id
        ) r ON r.payment_id = p.payment_id
        WHERE p.refunded > p.amount OR p.refunded != COALESCE(r.total, 0)
        LIMIT 10
        """
    ).fetchall()
    return _check(not bad, {"violations": [list(r) for r in bad]})


def _append_only(conn: sqlite3.Connection) -> dict[str, Any]:
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    needed = {"ledger_no_update", "ledger_no_delete"}
    return _check(needed <= triggers, {"enforced_by": sorted(needed & triggers)})


def _one_payment_per_key(conn: sqlite3.Connection) -> dict[str, Any]:
    bad = conn.execute(
        "SELECT idempotency_key, COUNT(*) FROM payments GROUP BY idempotency_key "
        "HAVING COUNT(*) > 1 LIMIT 10"
    ).fetchall()
    return _check(not bad, {"duplicates": [list(r) for r in bad]})


def _replays_match(conn: sqlite3.Connection) -> dict[str, Any]:
    """Each stored pay response belongs to the payment made with that key."""
    bad = conn.execute(
        """
        SELECT i.key, i.payment_id, p.idempotency_key
        FROM idempotency i LEFT JOIN payments p ON p.payment_id = i.payment_id
        WHERE i.route = 'pay' AND (p.payment_id IS NULL OR p.idempotency_key != i.key
                                   OR instr(CAST(i.body AS TEXT), i.payment_id) = 0)
        LIMIT 10
        """
    ).fetchall()
    records = conn.execute("SELECT COUNT(*) FROM idempotency").fetchone()[0]
    return _check(not bad, {"records": records, "mismatches": [list(r) for r in bad]})

"""The SQLite ledger file: schema, opening, and the state loaded into memory at start."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    user_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    credit_limit INTEGER NOT NULL,
    used INTEGER NOT NULL,
    txn_limit INTEGER NOT NULL,
    status TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS merchants (
    merchant_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    accepts_credit INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS payments (
    payment_id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    order_id TEXT,
    status TEXT NOT NULL,
    refunded INTEGER NOT NULL,
    channel TEXT,
    code TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    route TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    payment_id TEXT,
    http_status INTEGER NOT NULL,
    body BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (route, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS refunds (
    refund_id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    amount INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
-- Double entry: every payment's entries sum to zero. Books: user:<id> (+ = credit drawn),
-- merchant:<id> (- = receivable owed to the merchant), hold:<payment_id> (- = credit held).
CREATE TABLE IF NOT EXISTS ledger (
    entry_id INTEGER PRIMARY KEY,
    payment_id TEXT NOT NULL,
    book TEXT NOT NULL,
    amount INTEGER NOT NULL,
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- The settler's question, "which payments are still PENDING?", without scanning every payment:
-- only PENDING rows are in this index, so inserting a settled payment does not touch it.
CREATE INDEX IF NOT EXISTS payments_pending ON payments (created_at) WHERE status = 'PENDING';
CREATE TRIGGER IF NOT EXISTS ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
"""


@dataclass(slots=True)
class Account:
    """In-memory account state; `used` counts holds and captures, including in-flight ones."""

    user_id: str
    credit_limit: int
    used: int
    txn_limit: int
    status: str

    @property
    def available(self) -> int:
        return self.credit_limit - self.used


@dataclass(frozen=True, slots=True)
class Merchant:
    merchant_id: str
    name: str
    accepts_credit: bool


def connect(path: Path, *, durable: bool = True, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """A connection in WAL mode; `durable` means fsync on every commit (synchronous=FULL)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
    return conn


def is_seeded(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    if row is None:
        return False
    return conn.execute("SELECT 1 FROM meta WHERE key='seeded_at'").fetchone() is not None


def create_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def ensure_indexes(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE INDEX IF NOT EXISTS payments_pending ON payments (created_at) "
        "WHERE status = 'PENDING'"
    )


def load_accounts(conn: sqlite3.Connection) -> dict[str, Account]:
    rows = conn.execute("SELECT user_id, credit_limit, used, txn_limit, status FROM accounts")
    return {r[0]: Account(r[0], r[1], r[2], r[3], r[4]) for r in rows}


def idempotency_keys(conn: sqlite3.Connection, at_most: int) -> Iterator[tuple[str, str]] | None:
    """Every (route, key) of the idempotency table, or None when it holds more than `at_most`."""
    # Counting stops at at_most + 1 rows: a big ledger is not scanned to say it is big.
    (n,) = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM idempotency LIMIT ?)", (at_most + 1,)
    ).fetchone()
    if n > at_most:
        return None
    return conn.execute("SELECT route, key FROM idempotency")  # a cursor: rows one by one


def load_merchants(conn: sqlite3.Connection) -> dict[str, Merchant]:
    rows = conn.execute("SELECT merchant_id, name, accepts_credit FROM merchants")
    return {r[0]: Merchant(r[0], r[1], bool(r[2])) for r in rows}


def meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())

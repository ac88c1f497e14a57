"""The ledger's rows as named types, in their tables' column order.

NamedTuples: sqlite3 binds them as the plain tuples they are, so the write path pays nothing
for the names, and every statement below is made from the fields it binds.
"""

from __future__ import annotations

from typing import NamedTuple


class PaymentRow(NamedTuple):
    payment_id: str
    idempotency_key: str
    user_id: str
    merchant_id: str
    amount: int
    currency: str
    order_id: str | None
    status: str
    refunded: int
    channel: str | None
    code: str | None
    created_at: str
    updated_at: str


class PaymentUpdate(NamedTuple):
    status: str
    refunded: int
    code: str | None
    updated_at: str
    payment_id: str  # the WHERE


class RefundRow(NamedTuple):
    refund_id: str
    payment_id: str
    amount: int
    created_at: str


class LedgerEntry(NamedTuple):
    payment_id: str
    book: str  # user:<id>, merchant:<id> or hold:<payment_id>
    amount: int
    kind: str
    created_at: str


class IdempotencyRow(NamedTuple):
    route: str
    key: str
    fingerprint: bytes
    payment_id: str | None
    http_status: int
    body: bytes
    created_at: str


class StoredReply(NamedTuple):
    """What a replay of a key reads back."""

    fingerprint: bytes
    http_status: int
    body: bytes
    payment_id: str | None


class IdempotencyUpdate(NamedTuple):
    http_status: int
    body: bytes
    route: str  # the WHERE
    key: str


class AccountDelta(NamedTuple):
    used: int  # added to the account's used credit
    user_id: str


def columns(row: type[tuple[object, ...]]) -> str:
    """`a, b, c` of a row type, for SELECT and INSERT."""
    fields: tuple[str, ...] = row._fields  # type: ignore[attr-defined]
    return ", ".join(fields)


def insert(table: str, row: type[tuple[object, ...]]) -> str:
    fields: tuple[str, ...] = row._fields  # type: ignore[attr-defined]
    return f"INSERT INTO {table} ({columns(row)}) VALUES ({', '.join('?' for _ in fields)})"


def update(table: str, row: type[tuple[object, ...]], where: int) -> str:
    """UPDATE of every field but the last `where` ones, which select the row."""
    fields: tuple[str, ...] = row._fields  # type: ignore[attr-defined]
    sets = ", ".join(f"{f} = ?" for f in fields[:-where])
    keys = " AND ".join(f"{f} = ?" for f in fields[-where:])
    return f"UPDATE {table} SET {sets} WHERE {keys}"


PAYMENT_COLUMNS = columns(PaymentRow)

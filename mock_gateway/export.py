"""The ledger's view of payments, for the runner's cross-check of what clients believe."""

from __future__ import annotations

import sqlite3
from collections.abc import Generator
from pathlib import Path

from contract.lines import LedgerLine, encode_line
from mock_gateway.rows import PAYMENT_COLUMNS, PaymentRow

BATCH = 5_000


def payment_lines(db_path: Path, key_prefix: str) -> Generator[bytes, None, None]:
    """JSON lines of every payment whose idempotency key starts with `key_prefix`, read on a
    connection of its own (one snapshot), in batches."""
    # Each batch is read on whichever worker thread is free; one reader at a time.
    conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("BEGIN")
        # A range on the UNIQUE key index: prefix <= key < prefix + U+10FFFF.
        rows = conn.execute(
            f"SELECT {PAYMENT_COLUMNS} FROM payments "
            "WHERE idempotency_key >= ? AND idempotency_key < ? ORDER BY idempotency_key",
            (key_prefix, key_prefix + "\U0010ffff"),
        )
        while batch := rows.fetchmany(BATCH):
            yield b"".join(_line(PaymentRow._make(r)) for r in batch)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _line(row: PaymentRow) -> bytes:
    return encode_line(
        LedgerLine(
            payment_id=row.payment_id,
            key=row.idempotency_key,
            status=row.status,
            amount=row.amount,
            refunded=row.refunded,
            user_id=row.user_id,
            merchant_id=row.merchant_id,
            channel=row.channel,
            code=row.code,
        )
    )

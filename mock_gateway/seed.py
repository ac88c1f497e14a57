"""Deterministic seeding of accounts and merchants (Faker zh_CN), only into a new file."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
from faker import Faker

from contract.clock import utc_now_iso
from contract.population import POPULAR_MERCHANTS, merchant_id, user_id
from mock_gateway.rows import IdempotencyRow, LedgerEntry, PaymentRow, insert
from mock_gateway.views import payment_view

# Shares of the seeded population that make legitimate declines happen.
NEARLY_EXHAUSTED_SHARE = 0.08  # less than 50 CNY of credit left
FROZEN_SHARE = 0.02
NO_CREDIT_MERCHANT_SHARE = 0.03

_LIMITS_CNY = (1_000, 2_000, 3_000, 5_000, 8_000, 10_000, 20_000, 30_000, 50_000)
_TXN_LIMITS_CNY = (2_000, 5_000, 10_000, 20_000)
_SEED_MERCHANT = "m00000"


@dataclass(frozen=True, slots=True)
class SeededAccount:
    user_id: str
    name: str
    credit_limit: int
    used: int
    txn_limit: int
    status: str


def accounts(seed: int, count: int) -> Iterator[SeededAccount]:
    rng = random.Random(f"accounts:{seed}")
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    for n in range(1, count + 1):
        limit = rng.choice(_LIMITS_CNY) * 100
        txn_limit = min(limit, rng.choice(_TXN_LIMITS_CNY) * 100)
        draw = rng.random()
        if draw < NEARLY_EXHAUSTED_SHARE:
            used = limit - rng.randint(0, 5_000)
        elif draw < 0.5:
            used = int(limit * rng.uniform(0.0, 0.3))
        else:
            used = 0
        status = "FROZEN" if rng.random() < FROZEN_SHARE else "ACTIVE"
        yield SeededAccount(user_id(n), fake.name(), limit, used, txn_limit, status)


def merchants(seed: int, count: int) -> Iterator[tuple[str, str, int]]:
    rng = random.Random(f"merchants:{seed}")
    fake = Faker("zh_CN")
    fake.seed_instance(seed + 1)
    for n in range(1, count + 1):
        refuses = n > POPULAR_MERCHANTS and rng.random() < NO_CREDIT_MERCHANT_SHARE
        accepts = 0 if refuses else 1
        yield merchant_id(n), fake.company(), accepts


def seed_database(
    conn: sqlite3.Connection, *, seed: int, n_accounts: int, n_merchants: int
) -> None:
    """Fill a new file. Credit already used before the run is a seeded prior purchase, so the
    ledger explains every fen from the first second."""
    now = utc_now_iso()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO merchants VALUES (?, ?, ?)",
        [(_SEED_MERCHANT, "历史消费 (prior purchases)", 0), *merchants(seed, n_merchants)],
    )
    account_rows = []
    payment_rows: list[PaymentRow] = []
    ledger_rows: list[LedgerEntry] = []
    idempotency_rows: list[IdempotencyRow] = []
    for a in accounts(seed, n_accounts):
        account_rows.append((a.user_id, a.name, a.credit_limit, a.used, a.txn_limit, a.status))
        if a.used:
            pid = f"pay_seed_{a.user_id}"
            row = PaymentRow(
                payment_id=pid,
                idempotency_key=f"seed-{a.user_id}",
                user_id=a.user_id,
                merchant_id=_SEED_MERCHANT,
                amount=a.used,
                currency="CNY",
                order_id=None,
                status="SUCCEEDED",
                refunded=0,
                channel="seed",
                code=None,
                created_at=now,
                updated_at=now,
            )
            payment_rows.append(row)
            # A stored response with no fingerprint: reusing a seeded key is a mismatch.
            body = orjson.dumps(payment_view(row))
            key = row.idempotency_key
            idempotency_rows.append(IdempotencyRow("pay", key, b"", pid, 200, body, now))
            ledger_rows.append(LedgerEntry(pid, f"user:{a.user_id}", a.used, "capture", now))
            merchant = f"merchant:{_SEED_MERCHANT}"
            ledger_rows.append(LedgerEntry(pid, merchant, -a.used, "capture", now))
    conn.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?)", account_rows)
    conn.executemany(insert("payments", PaymentRow), payment_rows)
    conn.executemany(insert("ledger", LedgerEntry), ledger_rows)
    conn.executemany(insert("idempotency", IdempotencyRow), idempotency_rows)
    conn.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [
            ("seed", str(seed)),
            ("accounts", str(n_accounts)),
            ("merchants", str(n_merchants)),
            ("seeded_at", now),
        ],
    )
    conn.execute("COMMIT")

"""Deterministic seeding of accounts and merchants (Faker zh_CN), only into a new file."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
from faker import Faker

from contract.population import POPULAR_MERCHANTS, merchant_id, user_id
from mock_gateway.clock import utc_now_iso
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
    payment_rows = []
    ledger_rows = []
    idempotency_rows = []
    for a in accounts(seed, n_accounts):
        account_rows.append((a.user_id, a.name, a.credit_limit, a.used, a.txn_limit, a.status))
        if a.used:
            pid = f"pay_seed_{a.user_id}"
            payment_rows.append(
                (
                    pid,
                    f"seed-{a.user_id}",
                    a.user_id,
                    _SEED_MERCHANT,
                    a.used,
                    "CNY",
                    None,
                    "SUCCEEDED",
                    0,
                    "seed",
                    None,
                    now,
                    now,
                )
            )
            # A stored response with no fingerprint: reusing a seeded key is a mismatch.
            body = orjson.dumps(payment_view(payment_rows[-1]))
            idempotency_rows.append(("pay", f"seed-{a.user_id}", b"", pid, 200, body, now))
            ledger_rows.append((pid, f"user:{a.user_id}", a.used, "capture", now))
            ledger_rows.append((pid, f"merchant:{_SEED_MERCHANT}", -a.used, "capture", now))
    conn.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?)", account_rows)
    conn.executemany(
        "INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", payment_rows
    )
    conn.executemany(
        "INSERT INTO ledger (payment_id, book, amount, kind, created_at) VALUES (?, ?, ?, ?, ?)",
        ledger_rows,
    )
    conn.executemany("INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?)", idempotency_rows)
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

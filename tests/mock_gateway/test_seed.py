"""Seeding: deterministic, predictable ids, legitimate declines built in, and only once."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from mock_gateway import store
from mock_gateway.app import create_app
from mock_gateway.config import GatewayConfig
from mock_gateway.seed import seed_database
from tests.mock_gateway.support import TOKEN, Api, payment_body


def _seed(path: Path, *, seed: int, accounts: int, merchants: int) -> None:
    conn = store.connect(path, durable=False)
    try:
        store.create_schema(conn)
        seed_database(conn, seed=seed, n_accounts=accounts, n_merchants=merchants)
    finally:
        conn.close()


def _population(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {
            "accounts": conn.execute("SELECT * FROM accounts ORDER BY user_id").fetchall(),
            "merchants": conn.execute("SELECT * FROM merchants ORDER BY merchant_id").fetchall(),
            "payments": conn.execute(
                "SELECT payment_id, idempotency_key, user_id, merchant_id, amount, status "
                "FROM payments ORDER BY payment_id"
            ).fetchall(),
            "ledger": conn.execute(
                "SELECT payment_id, book, amount, kind FROM ledger ORDER BY entry_id"
            ).fetchall(),
        }
    finally:
        conn.close()


def test_same_seed_same_population_other_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        _seed(tmp_path / f"{name}.db", seed=seed, accounts=300, merchants=60)
    a, b, c = (_population(tmp_path / f"{n}.db") for n in "abc")

    assert a == b
    assert len(a["accounts"]) == len(c["accounts"]) == 300
    for table in ("accounts", "merchants"):
        assert a[table] != c[table], table
    # Different people and limits, not just different names.
    assert [r[2:] for r in a["accounts"]] != [r[2:] for r in c["accounts"]]


def test_seeded_population_has_declines_built_in(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    _seed(db, seed=1, accounts=2000, merchants=500)
    pop = _population(db)
    accounts = {r[0]: r for r in pop["accounts"]}
    merchants = {r[0]: r for r in pop["merchants"]}

    assert sorted(accounts) == [f"u{n:06d}" for n in range(1, 2001)]
    assert all(re.fullmatch(r"u\d{6}", uid) for uid in accounts)
    assert {f"m{n:05d}" for n in range(1, 501)} <= set(merchants)
    assert all(re.fullmatch(r"m\d{5}", mid) for mid in merchants)
    assert all(name for _id, name, *_ in pop["accounts"])
    assert all(name for _id, name, _accepts in pop["merchants"])

    # (user_id, name, credit_limit, used, txn_limit, status)
    frozen = [a for a in accounts.values() if a[5] == "FROZEN"]
    assert 0.005 * 2000 <= len(frozen) <= 0.05 * 2000
    exhausted = [a for a in accounts.values() if a[2] - a[3] < 5_000]
    assert 0.03 * 2000 <= len(exhausted) <= 0.15 * 2000
    assert all(0 <= a[3] <= a[2] and 0 < a[4] <= a[2] for a in accounts.values())
    refusing = [m for m in merchants.values() if not m[2]]
    assert 1 <= len(refusing) <= 0.2 * 500

    # Every fen already used is explained by a seeded payment and its two ledger entries.
    used = {uid: a[3] for uid, a in accounts.items() if a[3]}
    seeded = {p[2]: p[4] for p in pop["payments"]}
    assert seeded == used
    assert all(p[5] == "SUCCEEDED" for p in pop["payments"])
    assert len(pop["ledger"]) == 2 * len(pop["payments"])
    assert sum(entry[2] for entry in pop["ledger"]) == 0


async def test_restart_on_an_existing_file_keeps_it(
    aiohttp_client: AiohttpClient, db_path: Path
) -> None:
    first = GatewayConfig(db=str(db_path), seed=1, accounts=200, merchants=20, admin_token=TOKEN)
    client = await aiohttp_client(create_app(first))
    api = await Api.connect(client.session, str(client.make_url("/")))
    user = await api.payer(2_000)
    paid = await api.pay("k-1", payment_body(user, await api.shop(), 2_000))
    assert paid.status == 200
    available = await api.available(user)
    conn = sqlite3.connect(db_path)
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    conn.close()
    population = _population(db_path)
    await client.close()

    # Other settings on the same file: it must not be reseeded, nor the payment lost.
    again = GatewayConfig(db=str(db_path), seed=2, accounts=50, merchants=5, admin_token=TOKEN)
    client = await aiohttp_client(create_app(again))
    api = await Api.connect(client.session, str(client.make_url("/")))

    health = (await api.get("/healthz")).json()
    assert (health["seed"], health["accounts"], health["merchants"]) == (1, 200, 20)
    assert await api.payment(paid.json()["payment_id"]) == paid.json()
    assert await api.available(user) == available
    replay = await api.pay("k-1", payment_body(user, await api.shop(), 2_000))
    assert (replay.status, replay.body, replay.replayed) == (200, paid.body, True)
    conn = sqlite3.connect(db_path)
    assert dict(conn.execute("SELECT key, value FROM meta").fetchall()) == meta
    conn.close()
    assert _population(db_path) == population
    assert (await api.audit())["ok"] is True


@pytest.mark.parametrize("preload_max", [0, 1_000])
async def test_replay_after_restart_whether_or_not_its_keys_were_preloaded(
    aiohttp_client: AiohttpClient, db_path: Path, monkeypatch: pytest.MonkeyPatch, preload_max: int
) -> None:
    # The key filter skips the idempotency SELECT only for keys it knows are new: a ledger with
    # more keys than it reads at start (0 here) must still answer replays from the table.
    monkeypatch.setattr("mock_gateway.payments.PRELOAD_MAX", preload_max)
    config = GatewayConfig(db=str(db_path), seed=1, accounts=200, merchants=20, admin_token=TOKEN)
    client = await aiohttp_client(create_app(config))
    api = await Api.connect(client.session, str(client.make_url("/")))
    user, shop = await api.payer(2_000), await api.shop()
    paid = await api.pay("k-before", payment_body(user, shop, 1_000))
    assert paid.status == 200
    await client.close()

    client = await aiohttp_client(create_app(config))
    api = await Api.connect(client.session, str(client.make_url("/")))
    replay = await api.pay("k-before", payment_body(user, shop, 1_000))
    assert (replay.status, replay.body, replay.replayed) == (200, paid.body, True)
    mismatch = await api.pay("k-before", payment_body(user, shop, 999))
    assert mismatch.status == 422
    fresh = await api.pay("k-after", payment_body(user, shop, 1_000))
    assert fresh.status == 200 and not fresh.replayed
    again = await api.pay("k-after", payment_body(user, shop, 1_000))
    assert (again.status, again.body, again.replayed) == (200, fresh.body, True)

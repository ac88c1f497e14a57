"""The faults of the network act on every attempt their target matches, not only a payment's
first one: a replay of a stored answer, a query, a reversal, a refund, an account or merchant
read — each attempt with a seeded draw of its own (the n-th attempt of a key always draws the
same). A client that only replays can lose every answer, as it can in life."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from faults.kinds.latency import Latency
from tests.mock_gateway.chaos_support import (
    AMOUNT,
    Chaos,
    Seen,
    Shop,
    fast_profile,
    metric,
    payment_rows,
    settled_audit,
    stored_answer,
)
from tests.mock_gateway.conftest import StartApi
from tests.mock_gateway.support import PAY, Api

# Forty keys at once on a busy machine can outlast the fast profile's 300 ms channel
# timeout; the faults' own draws are the subject here, not the gateway's timeouts.
PROFILE = fast_profile(timeouts={"channel_ms": 10_000, "db_ms": 10_000})
LOST = "lost_response"
TIMEOUT_MS = 100


async def _injected(api: Api, kind: str) -> float:
    return await metric(api, "paystorm_faults_injected_total", kind=kind)


async def _open(start_api: StartApi, db: Path) -> tuple[Api, Shop]:
    api = await start_api(profile=PROFILE, db=str(db))
    return api, await Shop.open(api, db, PROFILE)


# -- lost_response ---------------------------------------------------------------------------


async def test_a_replay_loses_its_answer_too_and_the_payment_is_captured_once(
    start_api: StartApi, db_path: Path
) -> None:
    api, shop = await _open(start_api, db_path)
    chaos = Chaos(api)
    await chaos.add_active({"kind": LOST, "target": {"route": "pay"}})
    available, rows = await shop.available(), payment_rows(db_path)
    before = await _injected(api, LOST)

    first = await shop.pay_raw()
    replays = [await shop.pay_raw(first.key) for _ in range(3)]

    assert [s.status for s in (first, *replays)] == [None] * 4, "every answer was lost"
    assert await _injected(api, LOST) == before + 4
    assert payment_rows(db_path) == rows + 1
    assert await shop.available() == available - AMOUNT, "captured once"
    stored = stored_answer(db_path, "pay", first.key)
    await chaos.clear()

    replay = await shop.pay(first.key)

    assert (replay.status, replay.replayed, replay.markers) == (200, True, ())
    assert (replay.status, replay.body) == stored, "the stored answer, byte for byte"
    payment = replay.json()
    assert payment["status"] == "SUCCEEDED"
    assert await api.payment(payment["payment_id"]) == payment
    assert await shop.available() == available - AMOUNT
    await settled_audit(api)


Call = Callable[[Shop, Seen], Awaitable[Seen]]


def _refund_key(paid: Seen) -> str:
    return f"r-{paid.key}"


async def _query(shop: Shop, paid: Seen) -> Seen:
    return await shop.raw("GET", f"{PAY}/{paid.payment_id}")


async def _reverse(shop: Shop, paid: Seen) -> Seen:
    return await shop.raw("POST", f"{PAY}/{paid.payment_id}/reverse")


async def _refund(shop: Shop, paid: Seen) -> Seen:
    path = f"{PAY}/{paid.payment_id}/refunds"
    return await shop.raw("POST", path, key=_refund_key(paid), body={"amount": AMOUNT})


async def _account(shop: Shop, paid: Seen) -> Seen:
    return await shop.raw("GET", f"/v1/accounts/{shop.user}")


async def _merchant(shop: Shop, paid: Seen) -> Seen:
    return await shop.raw("GET", f"/v1/merchants/{shop.shop}")


# Each route's call, and the payment's status once the call was handled.
CALLS: dict[str, tuple[Call, str]] = {
    "query": (_query, "SUCCEEDED"),
    "reverse": (_reverse, "REVERSED"),
    "refund": (_refund, "REFUNDED"),
    "account": (_account, "SUCCEEDED"),
    "merchant": (_merchant, "SUCCEEDED"),
}


@pytest.mark.parametrize("route", list(CALLS))
async def test_every_route_loses_its_answers_after_handling_them(
    start_api: StartApi, db_path: Path, route: str
) -> None:
    api, shop = await _open(start_api, db_path)
    available = await shop.available()
    paid = await shop.pay()
    assert paid.status == 200, paid.body
    chaos = Chaos(api)
    await chaos.add_active({"kind": LOST, "target": {"route": route}})
    before = await _injected(api, LOST)
    call, status = CALLS[route]

    lost = await call(shop, paid)
    again = await call(shop, paid)  # a retry (for a refund, a replay of its key): lost too

    assert (lost.status, again.status) == (None, None)
    assert await _injected(api, LOST) == before + 2
    other = await shop.pay()  # the fault is narrowed to its route
    assert (other.status, other.markers) == (200, ())
    await chaos.clear()

    # Handled all the same: the reversal or the refund is in the ledger, once.
    payment = await api.payment(paid.payment_id)
    assert payment["status"] == status
    given_back = AMOUNT if status in ("REVERSED", "REFUNDED") else 0
    assert payment["refunded"] == (AMOUNT if status == "REFUNDED" else 0)
    assert await shop.available() == available - 2 * AMOUNT + given_back
    if route == "refund":
        replay = await api.refund(paid.payment_id, _refund_key(paid), AMOUNT)
        assert (replay.status, replay.replayed) == (200, True)
        assert (replay.status, replay.body) == stored_answer(db_path, "refund", _refund_key(paid))
    await settled_audit(api)


KEYS = [f"k-{n:02d}" for n in range(40)]
ATTEMPTS = 3  # the first and two replays
HALF_LOST = {"kind": LOST, "target": {"route": "pay", "probability": 0.5}, "seed": 7}


async def _lost_attempts(
    start_api: StartApi, db: Path, order: list[str], *, together: bool
) -> frozenset[tuple[str, int]]:
    """(key, attempt) of every answer lost when each key is paid and replayed on a fresh
    gateway, the keys one after another or all at once."""
    api, shop = await _open(start_api, db)
    fault = await Chaos(api).add_active(HALF_LOST)
    available = await shop.available()
    before = await _injected(api, LOST)

    async def attempts(key: str) -> list[Seen]:
        return [await shop.pay_raw(key) for _ in range(ATTEMPTS)]

    if together:
        seen = dict(zip(order, await asyncio.gather(*map(attempts, order)), strict=True))
    else:
        seen = {key: await attempts(key) for key in order}

    lost = frozenset(
        (k, n) for k, tries in seen.items() for n, s in enumerate(tries) if s.status is None
    )
    for tries in seen.values():
        for n, s in enumerate(tries):
            if s.status is not None:
                assert (s.status, s.replayed, s.markers) == (200, n > 0, ()), s.body
    assert await _injected(api, LOST) == before + len(lost)
    assert await shop.available() == available - len(order) * AMOUNT, "each captured once"
    assert (await Chaos(api).fault(fault["id"]) or {}).get("state") == "active"
    await Chaos(api).clear()
    await settled_audit(api)
    return lost


async def test_each_replay_has_its_own_draw_the_same_for_the_same_seed(
    start_api: StartApi, tmp_path: Path
) -> None:
    shuffled = random.Random(5).sample(KEYS, len(KEYS))

    first = await _lost_attempts(start_api, tmp_path / "a.db", KEYS, together=False)
    again = await _lost_attempts(start_api, tmp_path / "b.db", shuffled, together=True)

    replays = {(k, n) for k, n in first if n > 0}
    total = len(KEYS) * (ATTEMPTS - 1)
    assert 0.2 * total <= len(replays) <= 0.8 * total, len(replays)
    # Not the first attempt's fate: among keys lost first, some replays get through and some
    # are lost again; keys answered first can lose a replay.
    lost_first = {k for k, n in first if n == 0}
    assert {(k, 1) in first for k in lost_first} == {True, False}
    assert any((k, 1) in first for k in set(KEYS) - lost_first)
    assert again == first


# -- edge faults on replays --------------------------------------------------------------------

LATENCY_PARAMS: dict[str, Any] = {"ms": 500, "jitter_ms": 480, "distribution": "uniform"}
LATENCY_SEED = 3
LATENCY = {
    "kind": "latency",
    "params": LATENCY_PARAMS,
    "target": {"route": "pay"},
    "seed": LATENCY_SEED,
}
SHORT_S, LONG_S = 0.15, 0.8
EARLY_S = 0.005  # timer resolution
SLACK_S = 0.4  # the round trip and a busy machine


def _delay_s(key: str, attempt: int) -> float:
    """The delay drawn for the n-th attempt of a key: a seeded stream of its own, the first
    attempt's keyed on the key alone."""
    name = key if attempt == 0 else f"{key}#{attempt}"
    return Latency().parse(LATENCY_PARAMS).delay_s(random.Random(f"{LATENCY_SEED}:latency:{name}"))


def _key_with(first: Callable[[float], bool], second: Callable[[float], bool]) -> str:
    return next(
        key
        for key in (f"lat-{n}" for n in range(1000))
        if first(_delay_s(key, 0)) and second(_delay_s(key, 1))
    )


async def _delays(start_api: StartApi, db: Path, keys: list[str]) -> dict[str, list[float]]:
    api, shop = await _open(start_api, db)
    fault = await Chaos(api).add_active(LATENCY)

    async def attempts(key: str) -> list[Seen]:
        return [await shop.pay(key) for _ in range(2)]

    seen = dict(zip(keys, await asyncio.gather(*map(attempts, keys)), strict=True))
    for tries in seen.values():
        assert [(s.status, s.replayed, s.markers) for s in tries] == [
            (200, False, (fault["id"],)),
            (200, True, (fault["id"],)),
        ]
    await Chaos(api).clear()
    await settled_audit(api)
    return {key: [s.elapsed_s for s in tries] for key, tries in seen.items()}


async def test_latency_draws_a_delay_per_attempt_the_same_again(
    start_api: StartApi, tmp_path: Path
) -> None:
    # A key whose replay waits far longer than its first attempt, and one the other way round.
    keys = [
        _key_with(lambda d: d < SHORT_S, lambda d: d > LONG_S),
        _key_with(lambda d: d > LONG_S, lambda d: d < SHORT_S),
    ]

    for db in ("a.db", "b.db"):  # two fresh gateways: the n-th attempt draws the same
        measured = await _delays(start_api, tmp_path / db, keys)
        for key in keys:
            for attempt, elapsed in enumerate(measured[key]):
                want = _delay_s(key, attempt)
                assert want - EARLY_S <= elapsed <= want + SLACK_S, (key, attempt, elapsed, want)


async def test_a_pay_timeout_hangs_a_replay_then_names_the_payment(
    start_api: StartApi, db_path: Path
) -> None:
    api, shop = await _open(start_api, db_path)
    paid = await shop.pay()
    assert paid.status == 200, paid.body
    available, rows = await shop.available(), payment_rows(db_path)
    stored = stored_answer(db_path, "pay", paid.key)
    chaos = Chaos(api)
    fault = await chaos.add_active(
        {"kind": "timeout", "params": {"ms": TIMEOUT_MS}, "target": {"route": "pay"}}
    )
    before = await _injected(api, "timeout")

    replay = await shop.pay(paid.key)

    assert (replay.status, replay.code, replay.replayed) == (504, "CHANNEL_TIMEOUT", False)
    assert replay.markers == (fault["id"],)
    assert replay.payment_id == paid.payment_id
    assert replay.json()["error"]["retryable"] is True
    assert replay.elapsed_s >= TIMEOUT_MS / 1000 - EARLY_S
    assert await _injected(api, "timeout") == before + 1
    # Nothing changed: the payment, the credit, the rows, the stored answer.
    assert await api.payment(paid.payment_id) == paid.json()
    assert (await shop.available(), payment_rows(db_path)) == (available, rows)
    assert stored_answer(db_path, "pay", paid.key) == stored
    await chaos.clear()

    again = await shop.pay(paid.key)

    assert (again.status, again.replayed, again.markers) == (200, True, ())
    assert (again.status, again.body) == stored
    await settled_audit(api)


async def test_an_injected_error_answers_a_replay_too(start_api: StartApi, db_path: Path) -> None:
    api, shop = await _open(start_api, db_path)
    paid = await shop.pay()
    assert paid.status == 200, paid.body
    stored = stored_answer(db_path, "pay", paid.key)
    chaos = Chaos(api)
    fault = await chaos.add_active(
        {"kind": "error", "params": {"code": "SYSTEM_BUSY"}, "target": {"route": "pay"}}
    )

    replay = await shop.pay(paid.key)

    assert (replay.status, replay.code, replay.markers) == (503, "SYSTEM_BUSY", (fault["id"],))
    await chaos.clear()
    again = await shop.pay(paid.key)
    assert (again.status, again.replayed, again.body) == (200, True, stored[1])
    assert await api.payment(paid.payment_id) == paid.json()
    await settled_audit(api)

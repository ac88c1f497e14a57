"""Uncertain payments: a `timeout` leaves a payment PENDING with its credit held; replays say
PAYMENT_PENDING until the gateway settles it, then tell the outcome; a PENDING payment can be
reversed; PENDING payments left by a killed process are settled after the restart."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import yaml

from tests.mock_gateway.chaos_support import (
    AMOUNT,
    Chaos,
    Seen,
    Shop,
    fast_profile,
    settled_audit,
)
from tests.mock_gateway.conftest import Gateways, StartApi
from tests.mock_gateway.support import Api, payment_body, wait_until

PAYMENTS = 8
# Long enough that the replays below surely come before the gateway settles.
PROFILE = fast_profile(settle={"delay_s": 1.0, "success_share": 0.5})
TIMEOUT = {"kind": "timeout", "params": {"ms": 50}, "target": {"route": "pay"}}


async def _pending(shop: Shop, count: int) -> list[Seen]:
    fault = await Chaos(shop.api).add_active(TIMEOUT)
    seen = list(await asyncio.gather(*(shop.pay() for _ in range(count))))
    await Chaos(shop.api).clear()
    for s in seen:
        assert (s.status, s.code, s.markers) == (504, "CHANNEL_TIMEOUT", (fault["id"],)), s.body
        assert s.json()["error"]["retryable"] is True
    return seen


async def _settled(api: Api, payment_id: str) -> bool:
    return bool((await api.payment(payment_id))["status"] != "PENDING")


async def test_timeout_leaves_pending_then_settles_and_replays_tell(
    start_api: StartApi, db_path: Path
) -> None:
    api = await start_api(profile=PROFILE)
    shop = await Shop.open(api, db_path, PROFILE)
    available = await shop.available()

    timed_out = await _pending(shop, PAYMENTS)

    assert await shop.available() == available - PAYMENTS * AMOUNT, "credit held while PENDING"
    for s in timed_out:
        payment = await api.payment(s.payment_id)
        assert (payment["status"], payment["amount"]) == ("PENDING", AMOUNT)
        replay = await shop.pay(s.key)
        assert (replay.status, replay.code, replay.replayed) == (202, "PAYMENT_PENDING", True)
        assert replay.payment_id == s.payment_id
        assert replay.markers == (), "a replay is not shaped by the fault"
    assert (await api.audit())["pending"] == PAYMENTS

    async def all_settled() -> bool:
        return all([await _settled(api, s.payment_id) for s in timed_out])

    await wait_until(all_settled, "the payments to settle")
    statuses = {}
    for s in timed_out:
        payment = await api.payment(s.payment_id)
        statuses[s.key] = payment["status"]
        replay = await shop.pay(s.key)
        assert replay.replayed
        assert (await shop.pay(s.key)).body == replay.body, "the final answer is stored"
        if payment["status"] == "SUCCEEDED":
            assert replay.status == 200
            assert replay.json() == payment
        else:
            assert payment["status"] == "FAILED"
            assert payment["code"] == "CHANNEL_UNAVAILABLE"
            assert (replay.status, replay.code) == (502, "CHANNEL_UNAVAILABLE")
            assert replay.payment_id == s.payment_id
    assert set(statuses.values()) == {"SUCCEEDED", "FAILED"}, statuses
    succeeded = sum(1 for v in statuses.values() if v == "SUCCEEDED")
    assert await shop.available() == available - succeeded * AMOUNT, "FAILED ones released"
    audit = await settled_audit(api)
    assert audit["pending"] == 0


async def test_a_pending_payment_can_be_reversed(start_api: StartApi, db_path: Path) -> None:
    api = await start_api(profile=PROFILE)
    shop = await Shop.open(api, db_path, PROFILE)
    available = await shop.available()
    reversed_one, settled_one = await _pending(shop, 2)

    reply = await api.reverse(reversed_one.payment_id)

    assert reply.status == 200
    assert reply.json()["status"] == "REVERSED"
    assert await api.payment(reversed_one.payment_id) == reply.json()
    assert await shop.available() == available - AMOUNT, "the reversed one's credit is back"
    assert (await api.reverse(reversed_one.payment_id)).json() == reply.json(), "idempotent"
    # A replay of its key no longer says PENDING: it tells the client the payment is reversed.
    replay = await shop.pay(reversed_one.key)
    assert (replay.status, replay.replayed) == (200, True)
    assert replay.json()["status"] == "REVERSED"
    # The other one, made at the same time, settles; the reversed one stays reversed.
    await wait_until(lambda: _settled(api, settled_one.payment_id), "the other to settle")
    assert (await api.payment(reversed_one.payment_id))["status"] == "REVERSED"
    await settled_audit(api)


async def test_pending_payments_settle_after_kill_9_and_restart(
    gateways: Gateways, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    db = tmp_path / "ledger.db"
    # The first process would settle only after a minute; the second one at once.
    patient, quick = tmp_path / "patient.yaml", tmp_path / "quick.yaml"
    patient.write_text(yaml.safe_dump({"settle": {"delay_s": 60}}))
    quick.write_text(yaml.safe_dump({"settle": {"delay_s": 0.1, "success_share": 0.5}}))
    gw = await gateways.start(db, extra=("--config", str(patient)))
    api = await Api.connect(http, gw.url)
    user = await api.payer(PAYMENTS * AMOUNT)
    shop = await api.shop()
    available = await api.available(user)
    await Chaos(api).add_active(TIMEOUT)
    bodies = {f"k-{n}": payment_body(user, shop, AMOUNT) for n in range(PAYMENTS)}
    timed_out = {key: await api.pay(key, body) for key, body in bodies.items()}
    assert {r.status for r in timed_out.values()} == {504}
    ids = {key: r.error["payment_id"] for key, r in timed_out.items()}
    assert {(await api.payment(i))["status"] for i in ids.values()} == {"PENDING"}
    assert await api.available(user) == available - PAYMENTS * AMOUNT, "credit held"

    gw.signal(signal.SIGKILL)
    assert await gw.exited() == -signal.SIGKILL

    again = await gateways.start(db, extra=("--config", str(quick)))
    api = await Api.connect(http, again.url)
    audit = await settled_audit(api)
    assert audit["pending"] == 0
    succeeded = 0
    for key, payment_id in ids.items():
        payment = await api.payment(payment_id)
        assert payment["status"] in ("SUCCEEDED", "FAILED")
        succeeded += payment["status"] == "SUCCEEDED"
        replay = await api.pay(key, bodies[key])
        assert replay.replayed
        assert replay.status == (200 if payment["status"] == "SUCCEEDED" else 502)
    assert await api.available(user) == available - succeeded * AMOUNT

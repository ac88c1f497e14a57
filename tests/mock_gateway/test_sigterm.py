"""SIGTERM while payments are inside the gateway (credit reserved, the channel still working):
every one of them is answered and committed before the process exits 0, a second signal does
not cut the drain short, and a restart on the same file finds them all."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.mock_gateway.conftest import Gateways
from tests.mock_gateway.support import PAY, Api, payment_body, wait_until

IN_FLIGHT = 24
AMOUNT = 300
# Slow enough that the signal lands while every payment is with its channel; no admission or
# channel queueing, so all of them are there at once.
SLOW = {
    "capacity": {"max_inflight": 256},
    "channels": {
        "bank_a": {"concurrency": 64, "service_ms": 1_500, "jitter": 0},
        "bank_b": {"concurrency": 64, "service_ms": 1_500, "jitter": 0},
    },
    "timeouts": {"channel_ms": 20_000},
}


async def _with_channels(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url + "/metrics") as resp:
        text = await resp.text()
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "paystorm_channel_busy"
            for sample in family.samples
        )
    )


async def test_sigterm_drains_payments_in_flight_and_flushes_the_ledger(
    gateways: Gateways, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    db, config = tmp_path / "ledger.db", tmp_path / "slow.yaml"
    config.write_text(yaml.safe_dump(SLOW))
    gw = await gateways.start(db, extra=("--config", str(config)))
    api = await Api.connect(http, gw.url)
    user = await api.payer(IN_FLIGHT * AMOUNT)
    shop = await api.shop()
    available = await api.available(user)
    bodies = {f"k-{n}": payment_body(user, shop, AMOUNT) for n in range(IN_FLIGHT)}

    async def pay(key: str) -> tuple[int, bytes]:
        async with http.post(
            gw.url + PAY, json=bodies[key], headers={"Idempotency-Key": key}
        ) as resp:
            return resp.status, await resp.read()

    sent = {key: asyncio.create_task(pay(key)) for key in bodies}

    async def all_with_channels() -> bool:
        return await _with_channels(http, gw.url) == IN_FLIGHT

    await wait_until(all_with_channels, "every payment to reach its channel")
    gw.signal(signal.SIGTERM)
    gw.signal(signal.SIGTERM)  # an impatient second Ctrl-C or kill must not cut the drain

    answers = {key: await task for key, task in sent.items()}
    assert {status for status, _ in answers.values()} == {200}, answers
    assert await gw.exited() == 0
    assert gw.stdout[-1] == "paystorm gateway stopped", gw.stdout
    assert not [line for line in gw.stderr if "Traceback" in line], gw.stderr
    # Stopped: the port no longer answers.
    try:
        async with http.get(gw.url + "/healthz") as resp:
            raise AssertionError(f"still serving after exit: {resp.status}")
    except aiohttp.ClientConnectionError:
        pass

    again = await gateways.start(db)
    api = await Api.connect(http, again.url)
    for key, (_, body) in answers.items():
        reply = await api.pay(key, bodies[key])
        assert (reply.status, reply.body, reply.replayed) == (200, body, True)
        payment = await api.payment(reply.json()["payment_id"])
        assert (payment["status"], payment["amount"]) == ("SUCCEEDED", AMOUNT)
    assert await api.available(user) == available - IN_FLIGHT * AMOUNT
    audit = await api.audit()
    assert audit["ok"] is True, audit
    assert audit["pending"] == 0

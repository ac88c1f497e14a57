"""`python -m mock_gateway` as a real process: its address, kill -9 durability, a clean
SIGTERM, and one-line refusals of a bad command line."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.mock_gateway.conftest import ROOT, Gateways, gateway_command
from tests.mock_gateway.support import Api, payment_body

PAYMENTS = 300
WORKERS = 8
KILL_AFTER = 100
AMOUNT = 100


async def _payers(api: Api, count: int) -> list[str]:
    accounts = await api.accounts()
    fit = [
        a["user_id"]
        for a in accounts
        if a["status"] == "ACTIVE" and a["available_credit"] >= PAYMENTS * AMOUNT
    ]
    assert len(fit) >= count
    return fit[:count]


async def test_kill_9_loses_no_acknowledged_payment(
    gateways: Gateways, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    db = tmp_path / "ledger.db"
    gw = await gateways.start(db)
    api = await Api.connect(http, gw.url)
    users = await _payers(api, WORKERS)
    shop = await api.shop()
    bodies = {f"k-{n:04d}": payment_body(users[n % WORKERS], shop, AMOUNT) for n in range(PAYMENTS)}
    todo: Iterator[str] = iter(bodies)
    acknowledged: dict[str, bytes] = {}
    unanswered: list[str] = []

    async def worker() -> None:
        # aiohttp's client raises, so the Api checks do not run on these replies.
        for key in todo:
            try:
                async with http.post(
                    gw.url + "/v1/payments", json=bodies[key], headers={"Idempotency-Key": key}
                ) as resp:
                    body = await resp.read()
            except aiohttp.ClientError:
                unanswered.append(key)
                continue
            assert resp.status == 200, body
            acknowledged[key] = body
            if len(acknowledged) == KILL_AFTER:
                gw.signal(signal.SIGKILL)

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    assert await gw.exited() == -signal.SIGKILL
    assert len(acknowledged) >= KILL_AFTER
    assert unanswered, "the kill should have landed while payments were still being sent"

    again = await gateways.start(db)
    api = await Api.connect(http, again.url)
    for key, body in acknowledged.items():
        payment = await api.payment(_payment_id(body))
        assert payment["status"] == "SUCCEEDED"
        assert payment["amount"] == AMOUNT
        replay = await api.pay(key, bodies[key])
        assert (replay.status, replay.body, replay.replayed) == (200, body, True)
    audit = await api.audit()
    assert audit["ok"] is True, audit
    assert audit["pending"] == 0


def _payment_id(body: bytes) -> str:
    return str(json.loads(body)["payment_id"])


async def test_sigterm_stops_cleanly_and_keeps_payments(
    gateways: Gateways, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    db = tmp_path / "ledger.db"
    gw = await gateways.start(db)
    assert gw.stdout[-1] == f"paystorm gateway listening on {gw.url}"
    api = await Api.connect(http, gw.url)
    user = (await _payers(api, 1))[0]
    shop = await api.shop()
    paid = [await api.pay(f"k-{n}", payment_body(user, shop, AMOUNT)) for n in range(5)]
    assert {p.status for p in paid} == {200}

    gw.signal(signal.SIGTERM)

    assert await gw.exited() == 0
    assert gw.stdout[-2:] == [
        "paystorm gateway stopping: draining requests and flushing the ledger",
        "paystorm gateway stopped",
    ]
    assert not [line for line in gw.stderr if "Traceback" in line], gw.stderr

    again = await gateways.start(db)
    api = await Api.connect(http, again.url)
    for reply in paid:
        assert await api.payment(reply.json()["payment_id"]) == reply.json()
    assert (await api.audit())["ok"] is True


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        gateway_command(*args), cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def _assert_one_line_refusal(done: subprocess.CompletedProcess[str], mentions: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("paystorm gateway: ")
    assert mentions in lines[0]
    assert "Traceback" not in done.stderr
    assert "listening" not in done.stdout


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--port", "notanumber"], "--port"),
        (["--port", "70000"], "--port"),
        (["--db", "/nonexistent/dir/x.db"], "/nonexistent/dir"),
        (["--db", "{dir}"], "--db"),
        (["--db", "{not_a_db}"], "--db"),
        (["--accounts", "0"], "accounts"),
        (["--no-such-flag"], "--no-such-flag"),
    ],
)
def test_bad_command_line_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], mentions: str
) -> None:
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("this is not a ledger\n")
    fill = {"dir": str(tmp_path), "not_a_db": str(not_a_db)}
    args = [a.format(**fill) for a in args]
    _assert_one_line_refusal(
        _run("--port", "0", "--admin-token", "t", "--accounts", "5", "--merchants", "2", *args),
        mentions.format(**fill),
    )


def test_busy_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _run(
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "x.db"),
            "--admin-token",
            "t",
            "--accounts",
            "5",
            "--merchants",
            "2",
        )
    _assert_one_line_refusal(done, str(port))

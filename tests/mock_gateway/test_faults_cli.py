"""`paystorm chaos add|list|clear|events` against a real gateway process; the token comes
from $PAYSTORM_ADMIN_TOKEN; mistakes are one line on stderr and exit 2."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.mock_gateway.chaos_support import Chaos, Shop, settled_audit
from tests.mock_gateway.conftest import ROOT, Gateways
from tests.mock_gateway.support import TOKEN, Api


def _run(*args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PAYSTORM_ADMIN_TOKEN"}
    if token is not None:
        env["PAYSTORM_ADMIN_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "paystorm", "chaos", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def chaos_cli(*args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_run, *args, token=token)


def _ok(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


def _refused(done: subprocess.CompletedProcess[str], *mentions: str) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("paystorm chaos: ")
    for word in mentions:
        assert word in lines[0], lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    return lines[0]


async def test_add_list_events_and_clear(
    gateways: Gateways, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    gw = await gateways.start(tmp_path / "ledger.db")
    api = await Api.connect(http, gw.url)
    url = ("--url", gw.url)

    added = _ok(
        await chaos_cli(
            *url, "add", "latency", "-p", "ms=200", "-t", "route=pay", "--duration", "5"
        )
    )
    assert (added["kind"], added["params"], added["duration_s"]) == ("latency", {"ms": 200}, 5)
    assert added["target"]["route"] == "pay"
    await Chaos(api).wait_state(added["id"], "active")
    listed = _ok(await chaos_cli(*url, "list"))["faults"]
    assert [(f["id"], f["state"]) for f in listed] == [(added["id"], "active")]

    shop = await Shop.open(api, tmp_path / "ledger.db")
    paid = await shop.pay()
    assert (paid.status, paid.markers) == (200, (added["id"],))
    assert paid.elapsed_s >= 0.2

    events = _ok(await chaos_cli(*url, "events"))["events"]
    assert [(e["id"], e["kind"], e["ended_at"]) for e in events] == [(added["id"], "latency", None)]

    one = _ok(
        await chaos_cli(*url, "add", "error", "-p", "code=INTERNAL_ERROR", "--start-in", "60")
    )
    assert one["state"] == "scheduled"
    removed = _ok(await chaos_cli(*url, "clear", one["id"]))
    assert (removed["id"], removed["state"]) == (one["id"], "expired")
    assert _ok(await chaos_cli(*url, "clear")) == {"removed": 1}
    assert _ok(await chaos_cli(*url, "list")) == {"faults": []}
    ended = _ok(await chaos_cli(*url, "events"))["events"]
    assert [e["id"] for e in ended] == [added["id"]]
    assert ended[0]["ended_at"] is not None
    assert (await shop.pay()).markers == ()
    await settled_audit(api)


async def test_mistakes_are_one_line_and_exit_2(
    gateways: Gateways, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    gw = await gateways.start(tmp_path / "ledger.db")
    url = ("--url", gw.url)

    _refused(await chaos_cli(*url, "add", "latency", "-p", "ms=-1"), "params.ms")
    _refused(
        await chaos_cli(*url, "add", "latency", "-p", "ms=5", "-p", "colour=red"), "params.colour"
    )
    _refused(await chaos_cli(*url, "add", "flood"), "kind")
    _refused(await chaos_cli(*url, "add", "latency", "-p", "ms"), "NAME=VALUE")
    _refused(await chaos_cli(*url, "list", token=None), "PAYSTORM_ADMIN_TOKEN")
    _refused(await chaos_cli(*url, "list", token="wrong"), "UNAUTHORIZED")

    assert _ok(await chaos_cli(*url, "list")) == {"faults": []}, "nothing was added"


def _own_non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (no packet is sent to find it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.123", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


async def test_a_non_loopback_url_is_refused_before_anything_is_sent() -> None:
    address = _own_non_loopback_address() or "10.255.255.1"
    with socket.socket() as listener:
        # Listening on every address: a request to the non-loopback one would land here.
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]

        done = await chaos_cli("--url", f"http://{address}:{port}", "add", "latency", "-p", "ms=1")

        line = _refused(done, address, "loopback", "--allow-remote")
        try:
            listener.accept()
        except BlockingIOError:
            pass
        else:
            raise AssertionError(f"the command connected anyway: {line}")

"""Who may change faults, and where the token may appear: the admin and chaos API compare the
bearer token in constant time on every request; the token never reaches a log, a response or
an export; the gateway binds loopback unless told otherwise, and says so loudly when it is
not."""

from __future__ import annotations

import asyncio
import hmac
import os
import signal
import subprocess
from pathlib import Path

import aiohttp
import pytest

from tests.mock_gateway.conftest import ROOT, Gateways, gateway_command
from tests.mock_gateway.support import PAY, Api, payment_body

SECRET = "tok-3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e"


async def test_the_token_is_compared_in_constant_time_for_every_kind_of_attempt(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # as mock_gateway.app calls it
    attempts = [None, "", "Bearer", "Basic dDp0", "Bearer t" + "x" * 40, "bearer wrong", "Bearer t"]
    for authorization in attempts:
        headers = {} if authorization is None else {"Authorization": authorization}
        for path in ("/_admin/audit", "/_chaos/faults", "/_chaos/events"):
            reply = await api.get(path, headers=headers)
            assert reply.status == (200 if authorization == "Bearer t" else 401), authorization
    # One comparison per request, whatever was wrong with it: the time says nothing of why.
    assert len(compared) == len(attempts) * 3


async def test_the_token_never_reaches_a_log_a_response_or_an_export(
    gateways: Gateways, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    gw = await gateways.start(tmp_path / "ledger.db", token=SECRET)
    api = await Api.connect(http, gw.url)
    auth = {"Authorization": f"Bearer {SECRET}"}
    user = await api.payer(1_000)
    shop = await api.shop()
    paid = await api.pay("k-1", payment_body(user, shop, 1_000))
    assert paid.status == 200
    seen: list[bytes] = [paid.body]
    error_fault = {"kind": "error", "params": {"code": "INTERNAL_ERROR", "rate": 1}}
    fault = await api.post("/_chaos/faults", body=error_fault, headers=auth)
    assert fault.status == 201
    seen.append(fault.body)
    injected = await api.pay("k-2", payment_body(user, shop, 100))
    assert injected.status == 500  # an injected one; the fault is cleared below
    for path in ("/_chaos/faults", "/_chaos/events", "/_admin/audit", "/_admin/payments"):
        async with http.get(gw.url + path, headers=auth) as resp:
            assert resp.status == 200
            seen.append(await resp.read())
    for path in ("/metrics", "/healthz", "/openapi.json"):
        async with http.get(gw.url + path) as resp:
            seen.append(await resp.read())
    for wrong in (f"Bearer {SECRET}x", f"Bearer {SECRET[:-1]}", f"Basic {SECRET}"):
        reply = await api.get("/_admin/audit", headers={"Authorization": wrong})
        assert reply.status == 401
        seen.append(reply.body)
    async with http.delete(gw.url + "/_chaos/faults", headers=auth) as resp:
        seen.append(await resp.read())
    # A malformed body sent with the token: refused without echoing a header.
    async with http.post(
        gw.url + PAY, data=b"\xff", headers={**auth, "Idempotency-Key": "k-3"}
    ) as resp:
        assert resp.status == 400
        seen.append(await resp.read())

    gw.signal(signal.SIGTERM)
    assert await gw.exited() == 0
    assert not [b for b in seen if SECRET.encode() in b]
    logs = "\n".join(gw.stdout + gw.stderr)
    assert SECRET not in logs, logs
    assert "listening on" in logs  # the logs were read


async def _first_lines(*args: str) -> tuple[list[str], list[str]]:
    """Start a gateway, read until it listens, stop it with SIGTERM: (stdout, stderr)."""
    proc = subprocess.Popen(
        gateway_command("--port", "0", "--admin-token", SECRET, "--accounts", "5", *args),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
        assert "listening on" in first, first
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.to_thread(proc.communicate, None, 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    return [first.strip(), *out.splitlines()], err.splitlines()


async def test_the_gateway_binds_loopback_unless_told_and_then_warns(tmp_path: Path) -> None:
    out, err = await _first_lines("--db", str(tmp_path / "a.db"))
    assert out[0].startswith("paystorm gateway listening on http://127.0.0.1:")
    assert not [line for line in err if "WARNING" in line], err

    # Bound to every address for a moment; nothing is sent to it.
    out, err = await _first_lines("--db", str(tmp_path / "b.db"), "--host", "0.0.0.0")
    assert out[0].startswith("paystorm gateway listening on http://0.0.0.0:")
    warnings = [line for line in err if line.startswith("WARNING: bound to 0.0.0.0, not loopback")]
    assert len(warnings) == 1, err
    assert SECRET not in "\n".join(out + err)

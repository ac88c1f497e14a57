"""The one admin client every stage uses, against a real gateway process: each call works,
and a refusal is one line with the gateway's decoded words — never a bytes repr."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from contract.admin import AdminClient, AdminError
from tests.mock_gateway.conftest import Gateways
from tests.mock_gateway.support import TOKEN


async def test_faults_audit_and_export_through_one_client(
    gateways: Gateways, tmp_path: Path
) -> None:
    gw = await gateways.start(tmp_path / "ledger.db")
    admin = AdminClient(gw.url, TOKEN)

    health = await asyncio.to_thread(admin.health)
    assert health["status"] == "ok" and health["accounts"] > 0
    added = await asyncio.to_thread(
        admin.add_fault, {"kind": "latency", "params": {"ms": 5}, "duration_s": 30}
    )
    assert [f["id"] for f in await asyncio.to_thread(admin.faults)] == [added["id"]]
    assert [e["id"] for e in await asyncio.to_thread(admin.events)] == [added["id"]]
    removed = await asyncio.to_thread(admin.clear_faults, added["id"])
    assert removed["id"] == added["id"]
    assert await asyncio.to_thread(admin.faults) == []

    # A spec decided once connected; None sends nothing.
    timed = await asyncio.to_thread(
        admin.add_fault_timed, lambda: {"kind": "latency", "params": {"ms": 1}}
    )
    assert timed is not None
    assert await asyncio.to_thread(admin.add_fault_timed, lambda: None) is None
    assert [f["id"] for f in await asyncio.to_thread(admin.faults)] == [timed]
    assert await asyncio.to_thread(admin.clear_faults) == {"removed": 1}

    audit = await asyncio.to_thread(admin.audit)
    assert audit["ok"] is True

    def exported() -> list[bytes]:
        with admin.export("no-such-prefix-") as rows:
            return list(rows)

    assert await asyncio.to_thread(exported) == []


async def test_a_refusal_is_one_line_in_the_gateways_words(
    gateways: Gateways, tmp_path: Path
) -> None:
    gw = await gateways.start(tmp_path / "ledger.db")

    with pytest.raises(AdminError) as wrong_token:
        await asyncio.to_thread(AdminClient(gw.url, "wrong").faults)
    line = str(wrong_token.value)
    assert line.startswith("GET /_chaos/faults: HTTP 401 UNAUTHORIZED: "), line
    assert "\n" not in line and "b'" not in line and "\\x" not in line, line
    assert (wrong_token.value.status, wrong_token.value.code) == (401, "UNAUTHORIZED")

    with pytest.raises(AdminError) as bad_params:
        await asyncio.to_thread(
            AdminClient(gw.url, TOKEN).add_fault, {"kind": "latency", "params": {"ms": -1}}
        )
    assert bad_params.value.status == 400
    assert "params.ms" in str(bad_params.value), str(bad_params.value)
    listed = await asyncio.to_thread(AdminClient(gw.url, TOKEN).faults)
    assert listed == [], "a refused fault changes nothing"


def test_an_unreachable_gateway_is_one_line() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        admin = AdminClient(f"http://127.0.0.1:{port}", TOKEN, timeout_s=2)
        with pytest.raises(AdminError) as gone:
            admin.faults()
    line = str(gone.value)
    assert f"cannot reach the gateway at http://127.0.0.1:{port}" in line, line
    assert gone.value.status is None and "\n" not in line

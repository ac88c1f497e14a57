"""`target: {proxy: true}` in a scenario: the run starts the fault proxy in front of the
gateway, sends the load and the fault timeline through it, and the report puts the failures
down to the faults the proxy injected, inside their windows; a fault the proxy cannot apply
is refused before anything starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract.admin import AdminClient
from contract.argparsing import EXIT_USAGE
from contract.reconcile import CHARGED
from locustfiles.client.adapter import Adapter
from paystorm.adapted import captured
from tests.paystorm.runs import run_all

SCENARIO: dict[str, Any] = {
    "name": "through-proxy",
    "duration_s": 6,
    "load": {"model": "arrival-rate", "max_users": 120, "stages": [{"until_s": 6, "rate": 30}]},
    "client": {"timeout_s": 3, "retry": "none"},
    "target": {"proxy": True},
    "faults": [
        {
            "kind": "lost_response",
            "target": {"route": "pay", "probability": 0.3},
            "start_in_s": 1,
            "duration_s": 3,
            "seed": 2,
        },
        {
            "kind": "error",
            "params": {"code": "SYSTEM_BUSY", "rate": 0.3},
            "target": {"route": "pay"},
            "start_in_s": 1,
            "duration_s": 3,
            "seed": 5,
        },
    ],
}


def test_the_run_goes_through_the_proxy_and_its_faults_are_the_causes(tmp_path: Path) -> None:
    (run,) = run_all(tmp_path, SCENARIO)
    info = json.loads((run.run_dir / "run.json").read_text())
    assert info["embedded_gateway"] is True
    assert info["proxy"].startswith("http://127.0.0.1:") and info["proxy"] != info["target"]
    assert "paystorm proxy listening on" in (run.run_dir / "proxy.log").read_text()
    windows = json.loads((run.run_dir / "faults.json").read_text())
    windows = windows["windows"] if isinstance(windows, dict) else windows
    assert sorted(w["kind"] for w in windows) == ["error", "lost_response"]
    for w in windows:
        assert 0.5 <= w["started_at_s"] <= 1.5 and 3.5 <= w["ended_at_s"] <= 4.5, w
    causes = run.summary["had_credit_failures_by_cause"]
    assert causes.get("CONNECTION_ERROR", 0) > 0 and causes.get("SYSTEM_BUSY", 0) > 0, causes
    assert set(causes) <= {"CONNECTION_ERROR", "SYSTEM_BUSY", "MERCHANT_NOT_SUPPORTED"}, causes
    # Failures only inside the windows (half a second of slack for the run's clock): begun
    # (intended start plus lateness) after the first opened, meant to start before both closed.
    failed = [p for p in run.payments if p["code"] in ("CONNECTION_ERROR", "SYSTEM_BUSY")]
    begun = [p["start_s"] + p["lateness_ms"] / 1000 for p in failed]
    assert all(b >= 0.5 for b in begun), begun
    assert all(p["start_s"] <= 4.5 for p in failed), [p["start_s"] for p in failed]
    # Every lost answer on a payment the gateway captured is a ghost charge the cross-check
    # finds (a lost decline charged nobody).
    ledger = [json.loads(line) for line in (run.run_dir / "ledger.jsonl").read_text().splitlines()]
    status = {row["key"]: row["status"] for row in ledger}
    lost = [p["key"] for p in run.payments if p["code"] == "CONNECTION_ERROR"]
    captured = [key for key in lost if status.get(key) in CHARGED]
    assert len(captured) > 0
    assert run.reconcile["ghost_charges"] == len(captured)


def test_a_fault_the_proxy_cannot_apply_is_one_line_and_exit_2(tmp_path: Path) -> None:
    stall = {"kind": "db_stall", "params": {"hold_ms": 100}, "start_in_s": 1, "duration_s": 1}
    path = tmp_path / "stall.yaml"
    path.write_text(yaml.safe_dump({**SCENARIO, "faults": [SCENARIO["faults"][0], stall]}))
    done = subprocess.run(
        [sys.executable, "-m", "paystorm", "run", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == EXIT_USAGE
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"paystorm run: {path}: faults[1].kind: db_stall acts inside")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_bad_adapter_name_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "adapter.yaml"
    bad = "locustfiles.client.adapters.stripe_intents:Stripe"
    path.write_text(yaml.safe_dump({**SCENARIO, "client": {"adapter": bad}}))
    done = subprocess.run(
        [sys.executable, "-m", "paystorm", "run", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == EXIT_USAGE
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"paystorm run: {path}: client.adapter {bad}: expected a subclass")


def test_an_adapter_that_cannot_list_leaves_the_cross_check_out(tmp_path: Path) -> None:
    class Blind(Adapter):
        pass

    admin = AdminClient("http://127.0.0.1:9", "t")
    refused = pytest.raises(LookupError, match="Blind cannot list what the API captured")
    with refused, captured(Blind(), admin, "k"):
        pass

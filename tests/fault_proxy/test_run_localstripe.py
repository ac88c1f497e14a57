"""End to end against a service paystorm did not write: the worked example of docs/proxy.md
(flash-sale's shape at a small rate, localstripe behind the fault proxy, the Stripe-shaped
client adapter), compressed three times: the report's causes are the injected faults, the
cards Stripe declines are declines, and the cross-check reads Stripe's own list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from contract.admin import TOKEN_ENV
from tests.fault_proxy.servers import localstripe
from tests.paystorm.runs import Run

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "localstripe-flash-sale.yaml"


def test_the_worked_example_names_the_injected_faults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "the-run-token-4711"
    monkeypatch.setenv(TOKEN_ENV, token)  # the proxy's chaos API, through the runner
    scenario = yaml.safe_load(EXAMPLE.read_text())
    with localstripe() as url:
        run = Run(tmp_path, scenario, "--target", url, "--speed", "3")
        done = run.finish(timeout=120)
    info = json.loads((done.run_dir / "run.json").read_text())
    assert info["target"] == url and info["proxy"] and not info["embedded_gateway"]
    kinds = sorted(w["kind"] for w in json.loads((done.run_dir / "faults.json").read_text()))
    assert kinds == ["error", "latency", "lost_response"]
    causes = done.summary["had_credit_failures_by_cause"]
    assert causes.get("SYSTEM_BUSY", 0) > 0 and causes.get("CONNECTION_ERROR", 0) > 0, causes
    assert set(causes) <= {"SYSTEM_BUSY", "CONNECTION_ERROR"}, causes
    # Stripe's declined test card: declines, never counted against the service.
    declined = [p for p in done.payments if p["code"] == "INSUFFICIENT_CREDIT"]
    assert declined and not any(p["had_credit"] for p in declined)
    # Stripe lists what it captured: every lost answer on a captured payment is a ghost.
    ledger = [json.loads(x) for x in (done.run_dir / "ledger.jsonl").read_text().splitlines()]
    status = {row["key"]: row["status"] for row in ledger}
    lost = [p["key"] for p in done.payments if p["code"] == "CONNECTION_ERROR"]
    captured = [k for k in lost if status.get(k) == "SUCCEEDED"]
    assert captured and done.reconcile["ghost_charges"] == len(captured)
    # The admin token is in no output and no file of the run.
    assert token not in run.output
    for path in done.run_dir.rglob("*"):
        assert not path.is_file() or token.encode() not in path.read_bytes(), path

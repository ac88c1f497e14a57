"""End to end: the per-payment truth, cross-checked against the ledger, catches ghost charges,
and a client that resolves uncertain results leaves none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

LOST = {
    "name": "lost-responses",
    "duration_s": 5,
    "population": {"accounts": 500, "merchants": 30},
    "load": {
        "model": "users",
        "think_time_s": [0.05, 0.1],
        "spawn_rate": 100,
        "stages": [{"until_s": 5, "users": 6}],
    },
    "gateway": {"settle": {"delay_s": 0.5}},
    "faults": [
        {"kind": "lost_response", "target": {"route": "pay", "probability": 0.33}, "seed": 5}
    ],
}


def _run(tmp_path: Path, name: str, client: dict[str, Any]) -> dict[str, Any]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**LOST, "name": name, "client": client}))
    proc = subprocess.run(
        [sys.executable, "-m", "paystorm", "run", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
        env=dict(os.environ),
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    (run_dir,) = (tmp_path / "out").glob(f"{name}-*")
    reconcile: dict[str, Any] = json.loads((run_dir / "reconcile.json").read_text())
    reconcile["summary"] = json.loads((run_dir / "summary.json").read_text())
    reconcile["payments_log"] = [
        json.loads(line) for line in (run_dir / "payments.jsonl").read_text().splitlines()
    ]
    return reconcile


def test_lost_responses_make_ghost_charges_unless_the_client_resolves_them(
    tmp_path: Path,
) -> None:
    naive = _run(tmp_path, "naive", {"timeout_s": 2, "retry": "none"})
    assert naive["ghost_charges"] > 0
    assert naive["summary"]["ghost_charges"] == naive["ghost_charges"]
    ghosts = [e for e in naive["examples"] if e["kind"] == "ghost_charge"]
    assert ghosts and all(e["client_code"] == "CONNECTION_ERROR" for e in ghosts)

    careful = _run(
        tmp_path,
        "careful",
        {"timeout_s": 2, "retry": "none", "resolve_uncertain": True, "resolve_deadline_s": 3},
    )
    assert careful["ghost_charges"] == 0
    assert careful["lost_successes"] == 0
    # It met the same lost responses, and replaying the key told it what had happened.
    assert any(
        "CONNECTION_ERROR" in p["codes"] and p["outcome"] == "succeeded"
        for p in careful["payments_log"]
    )

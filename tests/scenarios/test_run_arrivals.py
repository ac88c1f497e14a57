"""End to end: the open model through `paystorm run`, with real gateway and Locust processes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

RATE = 150
STEADY: dict[str, Any] = {
    "name": "steady-arrivals",
    "description": "A steady 150 payments/s for a few seconds.",
    "duration_s": 6,
    "population": {"accounts": 500, "merchants": 30},
    "load": {"model": "arrival-rate", "max_users": 100, "stages": [{"until_s": 6, "rate": RATE}]},
    "client": {"timeout_s": 5, "retry": "backoff", "max_retries": 1},
}
FLOOD_RATE = 2000
# One user serves a payment in a millisecond or two: it cannot keep up with 2,000/s.
FLOOD: dict[str, Any] = {
    "name": "flooded-pool",
    "description": "A pool of one user under an arrival rate it cannot serve.",
    "duration_s": 3,
    "population": {"accounts": 500, "merchants": 30},
    "load": {
        "model": "arrival-rate",
        "max_users": 1,
        "stages": [{"until_s": 3, "rate": FLOOD_RATE}],
    },
    "client": {"timeout_s": 2, "retry": "none"},
}


def _run(tmp: Path, scenario: dict[str, Any]) -> Path:
    path = tmp / f"{scenario['name']}.yaml"
    path.write_text(yaml.safe_dump(scenario))
    proc = subprocess.run(
        [sys.executable, "-m", "paystorm", "run", str(path), "--out", str(tmp / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    (run_dir,) = (tmp / "out").iterdir()
    return run_dir


def _rows(run_dir: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((run_dir / "outcomes.csv").read_text().splitlines()))


def _payments(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "payments.jsonl").read_text().splitlines()]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@pytest.fixture(scope="module")
def steady_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("arrivals"), STEADY)


def test_the_offered_rate_holds_in_every_second(steady_run: Path) -> None:
    rows = _rows(steady_run)
    # Second 0 is the first second of load, and the schedule counts exactly: no partial
    # seconds at either end, but allow a few % should a future clock shift them.
    assert [int(r["time"]) for r in rows] == list(range(6))
    for row in rows[1:-1]:
        assert abs(int(row["offered"]) - RATE) <= RATE * 0.03, row
    assert sum(int(r["offered"]) for r in rows) == pytest.approx(6 * RATE, rel=0.01)
    assert sum(int(r["dropped"]) for r in rows) == 0
    for row in rows:
        assert int(row["payments"]) + int(row["dropped"]) == int(row["offered"])
        assert 0 < int(row["users"]) <= 100  # busy users, the peak of the second


def test_payments_start_on_time_and_are_timed_from_their_intended_start(
    steady_run: Path,
) -> None:
    payments = _payments(steady_run)
    assert len(payments) == sum(int(r["payments"]) for r in _rows(steady_run))
    lateness = [p["lateness_ms"] for p in payments]
    assert min(lateness) >= 0
    assert _quantile(lateness, 0.5) < 5, _quantile(lateness, 0.5)
    assert _quantile(lateness, 0.99) < 50, _quantile(lateness, 0.99)
    for p in payments:
        # Latency runs from the intended start, so it includes the lateness.
        assert p["latency_ms"] >= p["lateness_ms"] - 0.01, p
    starts = sorted(p["start_s"] for p in payments)
    assert starts[0] == pytest.approx(0.5 / RATE, abs=1e-3)  # arrival n due at (n + ½)/rate
    run = json.loads((steady_run / "run.json").read_text())
    assert run["stop_reason"] == "completed"
    # The shape stops at the scenario's end (its tick is once a second), not at a cap.
    assert run["duration_s"] < 6 + 5


def test_a_pool_too_small_drops_arrivals_but_offered_load_holds(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, FLOOD)
    rows = _rows(run_dir)
    assert [int(r["time"]) for r in rows] == list(range(3))
    for row in rows:
        assert int(row["offered"]) == pytest.approx(FLOOD_RATE, rel=0.01), row
        assert int(row["dropped"]) > 0, row
        assert int(row["payments"]) > 0, row
        assert int(row["payments"]) + int(row["dropped"]) == int(row["offered"])
        assert int(row["users"]) <= 1
    payments = _payments(run_dir)
    assert len(payments) == sum(int(r["payments"]) for r in rows)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["dropped"] == sum(int(r["dropped"]) for r in rows)

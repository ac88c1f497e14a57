"""End to end: the same scenario on a master and two worker processes offers the same load
and yields one results folder with the same numbers as one process would."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from tests.scenarios.runs import Run

RATE, DURATION_S = 60, 6


def test_two_worker_processes_share_the_arrivals_and_report_as_one(tmp_path: Path) -> None:
    scenario = {
        "name": "two-workers",
        "duration_s": DURATION_S,
        "load": {
            "model": "arrival-rate",
            "max_users": 80,
            "stages": [{"until_s": DURATION_S, "rate": RATE}],
        },
        "mix": {"shopper": 80, "pos": 10, "refund": 10},
        "client": {"timeout_s": 5, "retry": "backoff", "max_retries": 2},
    }
    run = Run(tmp_path, scenario, "--processes", "2").finish()
    rows = list(csv.DictReader((run.run_dir / "outcomes.csv").read_text().splitlines()))
    offered = [int(r["offered"]) for r in rows]
    # Every second offered the target rate: the workers split it, neither doubled nor halved.
    assert offered[:DURATION_S] == [RATE] * DURATION_S, offered
    assert sum(offered) == RATE * DURATION_S
    assert sum(int(r["dropped"]) for r in rows) == 0
    # Each worker served its half; every line reached the master's folder once.
    lines = run.payments
    assert len(lines) == RATE * DURATION_S
    assert len({p["key"] for p in lines}) == len(lines)
    by_worker = Counter(p["key"][:-32] for p in lines if p["type"] != "refund")
    assert len(by_worker) == 2 and min(by_worker.values()) >= 0.4 * sum(by_worker.values())
    # The per-second attempts are the merged per-payment attempts.
    payments = [p for p in lines if p["type"] != "refund"]
    assert sum(int(r["attempts"]) for r in rows) == sum(p["attempts"] for p in payments)
    assert run.summary["attempts"] == sum(p["attempts"] for p in payments)
    assert run.summary["payments"] == len(payments)
    assert run.reconcile["payments"] == len(payments) == run.reconcile["matched"]
    assert run.reconcile["ghost_charges"] == 0 and run.reconcile["lost_refunds"] == 0

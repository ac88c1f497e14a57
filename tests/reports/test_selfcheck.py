"""The run's self-check: a consistent folder passes, and each invariant broken on purpose is
named — in the summary, on the report's banner and in `paystorm report`'s exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reports.build import build_report
from reports.run import load_run
from reports.selfcheck import check
from tests.reports.conftest import payment, payments_for, row, write_run

Folder = dict[str, Any]


def _ledger_row(key: str, payment_id: str, status: str = "SUCCEEDED") -> dict[str, Any]:
    """A ledger.jsonl line as the gateway's export writes it."""
    return {
        "payment_id": payment_id,
        "key": key,
        "status": status,
        "amount": 1000,
        "refunded": 0,
        "user_id": "u000001",
        "merchant_id": "m00001",
        "channel": "bank_a",
        "code": None,
    }


def _consistent() -> Folder:
    """Three seconds of payments whose rows, lines and ledger agree; one of them a ghost
    charge (the ledger captured it, the client saw a timeout)."""
    lines: list[dict[str, Any]] = []
    ledger: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for second, (served, dropped) in enumerate([(4, 0), (5, 1), (3, 2)]):
        outcomes = {"succeeded": 0, "declined": 0, "failed": 0, "unknown": 0}
        for i in range(served):
            timed_out = second == 1 and i == 0
            line = payment(second + i / 10, 25.0)
            line.update(key=f"k{second}-{i}", attempts=1 + timed_out)
            if timed_out:
                line.update(outcome="unknown", code="CLIENT_TIMEOUT", codes=["CLIENT_TIMEOUT"] * 2)
            outcomes[line["outcome"]] += 1
            lines.append(line)
            ledger.append(_ledger_row(line["key"], f"p{second}{i}"))
        rows.append(
            {
                "time": second,
                "users": served,
                "offered": served + dropped,
                "dropped": dropped,
                "payments": served,
                "had_credit": served,
                "had_credit_failed": outcomes["unknown"],
                "attempts": served + (second == 1),
                **outcomes,
                "p50_ms": 25.0,
                "p95_ms": 25.0,
                "p99_ms": 25.0,
            }
        )
    return {
        "rows": rows,
        "payments": lines,
        "ledger": ledger,
        "reconcile": {"ghost_charges": 1, "lost_successes": 0, "examples": []},
        "faults": [{"id": "f1", "kind": "latency", "started_at_s": 0.5, "ended_at_s": 2.0}],
    }


def _write(run_dir: Path, folder: Folder) -> Path:
    write_run(
        run_dir,
        folder["rows"],
        payments=folder["payments"],
        reconcile=folder["reconcile"],
        faults=folder["faults"],
        info={"scenario": "flash-sale", "duration_s": 3.5, "stop_reason": "completed"},
    )
    ledger = "".join(json.dumps(row) + "\n" for row in folder["ledger"])
    (run_dir / "ledger.jsonl").write_text(ledger)
    return run_dir


def _offered_off_by_one(f: Folder) -> None:
    f["rows"][1]["offered"] += 1


def _a_line_missing(f: Folder) -> None:
    del f["payments"][5]


def _outcomes_that_do_not_add_up(f: Folder) -> None:
    f["rows"][2]["succeeded"] -= 1


def _an_attempt_not_counted(f: Folder) -> None:
    f["rows"][1]["attempts"] -= 1


def _ghost_charges_halved(f: Folder) -> None:
    f["reconcile"]["ghost_charges"] = 2  # the files give one; twice as many is no better


def _a_window_after_the_run(f: Folder) -> None:
    f["faults"].append({"id": "f2", "kind": "timeout", "started_at_s": 3.0, "ended_at_s": 9.0})


BROKEN: dict[str, Callable[[Folder], None]] = {
    "offered = started + dropped": _offered_off_by_one,
    "lines = payments": _a_line_missing,
    "outcomes add up": _outcomes_that_do_not_add_up,
    "attempts add up": _an_attempt_not_counted,
    "ghost charges": _ghost_charges_halved,
    "fault windows inside the run": _a_window_after_the_run,
}


def test_a_consistent_run_passes(run_dir: Path) -> None:
    assert check(load_run(_write(run_dir, _consistent()))) == ()


@pytest.mark.parametrize("invariant", list(BROKEN))
def test_each_invariant_broken_on_purpose_is_named(run_dir: Path, invariant: str) -> None:
    folder = _consistent()
    BROKEN[invariant](folder)
    violations = check(load_run(_write(run_dir, folder)))
    assert invariant in [v.invariant for v in violations], violations


def test_halving_the_ghost_charges_is_caught_as_well(run_dir: Path) -> None:
    folder = _consistent()
    folder["ledger"].append(_ledger_row("k2-0", "px"))
    folder["payments"][-3].update(outcome="unknown", code="CLIENT_TIMEOUT")
    folder["rows"][2].update(succeeded=2, unknown=1, had_credit_failed=1)
    folder["reconcile"]["ghost_charges"] = 1  # the files give two
    [violation] = check(load_run(_write(run_dir, folder)))
    assert violation.invariant == "ghost charges" and "give 2" in violation.detail


def test_a_broken_run_carries_a_red_banner_and_paystorm_report_exits_3(run_dir: Path) -> None:
    folder = _consistent()
    _a_line_missing(folder)
    _write(run_dir, folder)
    report = build_report(run_dir)
    # A line gone: the other witnesses (offered, outcomes, attempts) disagree with it too.
    assert [v.invariant for v in report.violations] == [
        "offered = started + dropped",
        "lines = payments",
        "outcomes add up",
        "attempts add up",
    ]
    assert report.summary["self_check"]["ok"] is False
    page = report.html_path.read_text()
    assert '<div class="verdict fail">Self-check failed (offered = started + dropped, lines' in page
    assert "Self-check failed" in (run_dir / "summary.md").read_text()
    assert 'name="self_check"' in (run_dir / "slo.junit.xml").read_text()
    proc = subprocess.run(
        [sys.executable, "-m", "reports", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "self-check failed: lines = payments: payments.jsonl has 11, outcomes.csv 12" in (
        proc.stdout
    )


def test_the_report_fixtures_add_up_too(run_dir: Path) -> None:
    rows = [row(t, 50, success=0.9, declined=3, unknown_share=0.5) for t in range(4)]
    write_run(run_dir, rows, payments=payments_for(rows))
    assert check(load_run(run_dir)) == ()

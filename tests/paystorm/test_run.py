"""End to end: `paystorm run` as a user runs it, with real gateway and Locust subprocesses."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

SHORT: dict[str, Any] = {
    "name": "short",
    "description": "A few seconds of steady shoppers.",
    "duration_s": 6,
    "population": {"accounts": 500, "merchants": 30},
    "load": {
        "model": "users",
        "think_time_s": [0.05, 0.2],
        "spawn_rate": 100,
        "stages": [{"until_s": 6, "users": 8}],
    },
    "client": {"timeout_s": 5, "retry": "backoff", "max_retries": 1},
    "slo": {"success_rate": 0.9, "p99_ms": 2000},
}


def _paystorm(
    *args: str, env: dict[str, str] | None = None, timeout: float = 150, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paystorm", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def _scenario(tmp_path: Path, **overrides: Any) -> Path:
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump({**SHORT, **overrides}))
    return path


def _only_run_dir(out: Path) -> Path:
    runs = list(out.iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def _payments(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "payments.jsonl").read_text().splitlines()]


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in argv and "pytest" not in argv:
            found.append(argv)
    return found


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    tmp = tmp_path_factory.mktemp("run")
    # A relative --out, as `make demo` gives it, from the folder the user is in.
    proc = _paystorm("run", str(_scenario(tmp)), "--out", "out", cwd=tmp)
    assert "Traceback" not in proc.stderr, proc.stderr
    return _only_run_dir(tmp / "out"), proc.stdout, proc.returncode


def test_a_run_that_meets_its_slo_exits_0_and_says_where_the_report_is(
    finished_run: tuple[Path, str, int],
) -> None:
    run_dir, stdout, code = finished_run
    assert code == 0, stdout
    assert "SLO met" in stdout
    assert f"report: {run_dir / 'report.html'}" in stdout
    assert re.fullmatch(r"short-\d{8}T\d{6}Z", run_dir.name)


def test_the_results_folder_holds_every_stage_output(finished_run: tuple[Path, str, int]) -> None:
    run_dir, _, _ = finished_run
    for name in (
        "scenario.yaml",
        "run.json",
        "outcomes.csv",
        "payments.jsonl",
        "faults.json",
        "gateway_metrics.csv",
        "audit.json",
        "summary.json",
        "summary.md",
        "report.html",
        "slo.junit.xml",
        "charts/success_vs_load.png",
        "charts/timeline.png",
        "locust_stats.csv",
        "locust.html",
    ):
        assert (run_dir / name).is_file(), name
    run = json.loads((run_dir / "run.json").read_text())
    assert run["stop_reason"] == "completed"
    assert run["target"].startswith("http://127.0.0.1:")


def test_outcomes_agree_with_the_per_payment_log_and_the_summary(
    finished_run: tuple[Path, str, int],
) -> None:
    run_dir, _, _ = finished_run
    rows = list(csv.DictReader((run_dir / "outcomes.csv").read_text().splitlines()))
    payments = _payments(run_dir)
    assert len(payments) > 20
    assert sum(int(r["payments"]) for r in rows) == len(payments)
    for outcome in ("succeeded", "declined", "failed", "unknown"):
        assert sum(int(r[outcome]) for r in rows) == sum(
            1 for p in payments if p["outcome"] == outcome
        )
    assert sum(int(r["attempts"]) for r in rows) == sum(p["attempts"] for p in payments)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["payments"] == len(payments)
    had = [p for p in payments if p["had_credit"]]
    ok = [p for p in had if p["outcome"] == "succeeded"]
    assert summary["success_rate"] == pytest.approx(len(ok) / len(had))
    # A quiet gateway with no faults serves (almost) everyone who had credit.
    assert summary["success_rate"] > 0.9


def test_the_ledger_audit_holds_after_the_run(finished_run: tuple[Path, str, int]) -> None:
    run_dir, _, _ = finished_run
    audit = json.loads((run_dir / "audit.json").read_text())
    assert audit["ok"] is True, audit
    succeeded = sum(1 for p in _payments(run_dir) if p["outcome"] == "succeeded")
    sampled = list(csv.DictReader((run_dir / "gateway_metrics.csv").read_text().splitlines()))
    assert sampled and max(float(r["payments_total"]) for r in sampled) >= succeeded * 0.5


def test_no_process_outlives_the_run(finished_run: tuple[Path, str, int]) -> None:
    run_dir, _, _ = finished_run
    assert _processes_mentioning(str(run_dir)) == []


def test_a_missed_slo_exits_1_and_names_the_objective(tmp_path: Path) -> None:
    impossible = {**SHORT["slo"], "p99_ms": 0.001}
    proc = _paystorm(
        "run",
        str(
            _scenario(
                tmp_path,
                duration_s=3,
                slo=impossible,
                load={**SHORT["load"], "stages": [{"until_s": 3, "users": 4}]},
            )
        ),
        "--out",
        str(tmp_path / "out"),
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "SLO failed: p99_ms" in proc.stdout
    summary = json.loads((_only_run_dir(tmp_path / "out") / "summary.json").read_text())
    verdicts = {o["name"]: o["passed"] for o in summary["slo"]}
    assert verdicts == {"success_rate": True, "p99_ms": False}


@pytest.mark.parametrize(
    "target",
    [
        "http://10.20.30.40:8080",
        "http://192.0.2.7",
        "http://example.invalid:80",
        "ftp://127.0.0.1:21",
    ],
)
def test_a_target_off_this_machine_is_refused_before_any_traffic(
    tmp_path: Path, target: str
) -> None:
    proc = _paystorm(
        "run",
        str(_scenario(tmp_path)),
        "--target",
        target,
        "--out",
        str(tmp_path / "out"),
        timeout=30,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--target" in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_bad_command_line_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (
        ["run"],
        ["run", "flash-sale", "--speed", "fast"],
        ["fly"],
        ["run", "no-such-scenario"],
    ):
        proc = _paystorm(*args, timeout=30)
        assert proc.returncode == 2, args
        assert len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)
        assert "Traceback" not in proc.stderr

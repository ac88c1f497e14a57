"""build_report and `python -m reports`: the files written, exit codes and error lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from reports import publish
from reports.build import build_report
from reports.cli import main
from tests.reports.conftest import payment, row, scenario, write_run

OUTPUTS = (
    "summary.json",
    "summary.md",
    "report.html",
    "slo.junit.xml",
    "charts/success_vs_load.png",
    "charts/timeline.png",
    "charts/causes.png",
    "charts/latency.png",
    "charts/gateway.png",
)
NUMBER_OR_NULL = {"type": ["number", "null"]}
SUMMARY_SCHEMA = {
    "type": "object",
    "required": [
        "scenario",
        "description",
        "stop_reason",
        "duration_s",
        "success_rate",
        "payments",
        "attempts",
        "offered",
        "dropped",
        "dropped_rate",
        "succeeded",
        "declined",
        "failed",
        "unknown",
        "had_credit",
        "had_credit_failures",
        "had_credit_failure_rate",
        "had_credit_failures_by_cause",
        "throughput",
        "latency_ms",
        "ghost_charges",
        "knee",
        "audit_ok",
        "slo",
        "slo_passed",
    ],
    "properties": {
        "success_rate": NUMBER_OR_NULL,
        "payments": {"type": "integer"},
        "had_credit_failures_by_cause": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
        },
        "latency_ms": {
            "type": "object",
            "required": ["p50", "p95", "p99", "max"],
            "properties": {q: NUMBER_OR_NULL for q in ("p50", "p95", "p99", "max")},
        },
        "knee": {
            "type": "object",
            "required": ["offered_per_s", "held_to_max"],
            "properties": {"offered_per_s": NUMBER_OR_NULL, "held_to_max": {"type": "boolean"}},
        },
        "slo": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "target", "measured", "passed", "comparison"],
                "properties": {
                    "measured": NUMBER_OR_NULL,
                    "passed": {"type": "boolean"},
                    "comparison": {"enum": [">=", "<="]},
                },
            },
        },
        "slo_passed": {"type": "boolean"},
    },
}


def test_build_writes_every_file(run_dir: Path) -> None:
    write_run(run_dir, [row(0, 100), row(1, 100, success=0.98)])
    report = build_report(run_dir)
    assert sorted(p.relative_to(run_dir).as_posix() for p in report.files) == sorted(OUTPUTS)
    for name in OUTPUTS:
        assert (run_dir / name).stat().st_size > 0
    summary = json.loads((run_dir / "summary.json").read_text())
    jsonschema.validate(summary, SUMMARY_SCHEMA)
    assert summary == report.summary and summary["success_rate"] == pytest.approx(0.99)
    assert report.slo_passed and report.html_path == run_dir / "report.html"
    assert not list(run_dir.rglob("*.tmp"))


def test_main_exit_0_when_slo_holds(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(run_dir, [row(0, 100)])
    assert main([str(run_dir)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{run_dir / 'report.html'}: SLO met\n" and err == ""


def test_main_exit_1_when_an_objective_fails(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_run(run_dir, [row(0, 100, success=0.5)], scenario_doc=scenario({"success_rate": 0.9}))
    assert main([str(run_dir)]) == 1
    assert capsys.readouterr().out.endswith("report.html: SLO failed: success_rate\n")
    assert (run_dir / "report.html").exists()


def test_missing_optional_files_still_build(run_dir: Path) -> None:
    write_run(run_dir, [row(0, 100)], scenario_doc={}, info={})
    assert main([str(run_dir)]) == 0
    assert all((run_dir / name).exists() for name in OUTPUTS)
    assert "scenario.yaml is absent" in (run_dir / "summary.md").read_text()


@pytest.mark.parametrize(
    ("bad_line", "needle"),
    [
        ("1,10,10,0,10,10,0,10,ten,0,0,0,20,50,80", "line 3, column 'succeeded'"),
        ("1,10,10,0,10,10,0", "line 3: 7 fields, header has 15"),
    ],
)
def test_main_exit_2_on_malformed_outcomes(
    run_dir: Path, capsys: pytest.CaptureFixture[str], bad_line: str, needle: str
) -> None:
    write_run(run_dir, [row(0, 10), row(1, 10)])
    path = run_dir / "outcomes.csv"
    path.write_text(
        path.read_text().splitlines()[0]
        + "\n"
        + "0,10,10,0,10,10,0,10,10,0,0,0,20,50,80\n"
        + bad_line
    )
    assert main([str(run_dir)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"paystorm report: {path}") and needle in err
    assert not (run_dir / "report.html").exists() and not (run_dir / "summary.json").exists()


def test_main_exit_2_on_a_folder_that_is_not_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"paystorm report: {tmp_path}: not a paystorm run (no outcomes.csv and no run.json)\n"
    )
    assert not (tmp_path / "report.html").exists()
    assert main([str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: paystorm report" in capsys.readouterr().err


def _report_files(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in OUTPUTS if (run_dir / name).exists()}


def test_a_failed_write_while_staging_keeps_the_previous_report(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_run(run_dir, [row(0, 10)])
    build_report(run_dir)
    before = _report_files(run_dir)
    write_run(run_dir, [row(0, 10), row(1, 10, success=0.5)])  # more data since

    def no_space(staging: Path, files: object) -> None:
        (staging / "summary.json").write_bytes(b"{")  # half written when the disk filled
        raise OSError(28, "No space left on device", str(staging / "charts/timeline.png"))

    monkeypatch.setattr(publish, "_stage", no_space)
    assert main([str(run_dir)]) == 2
    assert "timeline.png: cannot write the report (No space left on device)" in (
        capsys.readouterr().err
    )
    assert _report_files(run_dir) == before  # the whole previous report, untouched
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == []


def test_a_failed_swap_leaves_no_report_at_all(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_run(run_dir, [row(0, 10)])
    build_report(run_dir)
    (run_dir / "charts" / "old_chart.png").write_bytes(b"from an older version")
    real = publish._move

    def failing(source: Path, target: Path) -> None:
        if target.name == "slo.junit.xml":
            raise PermissionError(13, "Permission denied", str(target))
        real(source, target)

    monkeypatch.setattr(publish, "_move", failing)
    assert main([str(run_dir)]) == 2
    assert "slo.junit.xml: cannot write the report (Permission denied)" in capsys.readouterr().err
    # Neither the old report nor part of the new one: nothing that looks complete.
    assert _report_files(run_dir) == {}
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == []
    monkeypatch.setattr(publish, "_move", real)
    build_report(run_dir)
    assert sorted(p.name for p in (run_dir / "charts").iterdir()) == sorted(
        Path(name).name for name in OUTPUTS if name.startswith("charts/")
    )  # a chart no longer drawn is removed with the old set


def test_main_exit_2_on_a_truncated_payment_log_keeps_no_report(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payments = [payment(0.1, 20.0), payment(0.2, 30.0)]
    write_run(run_dir, [row(0, 2)], payments=payments)
    path = run_dir / "payments.jsonl"
    path.write_bytes(path.read_bytes()[:-40])  # the writer died mid-line
    assert main([str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"paystorm report: {path} line 2: not valid JSON") and err.count("\n") == 1
    )
    assert not (run_dir / "report.html").exists() and not (run_dir / "slo.junit.xml").exists()


def test_python_dash_m_reports(run_dir: Path) -> None:
    write_run(run_dir, [row(0, 10, success=0.5)])
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "reports", str(run_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.strip() == f"{run_dir / 'report.html'}: SLO failed: success_rate"

"""load_run: typed data from a results folder; optional files degrade, malformed ones fail."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from reports.run import RunError, load_run
from tests.reports.conftest import payment, row, scenario, write_run


def test_reads_every_file(run_dir: Path) -> None:
    write_run(
        run_dir,
        [row(0, 10, declined=2, success=0.5), row(1, 20)],
        payments=[payment(0.2, 35.0), payment(0.4, None, "unknown", code="CLIENT_TIMEOUT")],
        faults=[{"id": "f1", "kind": "db_stall", "started_at_s": 0.5, "ended_at_s": None}],
        gateway=[{"time": 0, "inflight": 3, "requests_total": 10, "rss_bytes": 1e6, "new": 1}],
        audit={"ok": False, "checks": {"conservation": {"ok": False, "detail": {"d": 1}}}},
        reconcile={"ghost_charges": 2, "lost_successes": 0, "examples": [{"key": "k"}]},
    )
    (run_dir / "locust.html").write_text("<html></html>")
    run = load_run(run_dir)

    first = run.seconds[0]
    assert (first.time, first.offered, first.payments, first.had_credit) == (0, 10, 10, 8)
    assert first.had_credit_failed == 4 and first.success_rate == 0.5
    assert first.codes == {"INSUFFICIENT_CREDIT": 2, "SYSTEM_BUSY": 4}
    assert run.seconds[1].codes == {}  # blank code cells read as 0 and are left out
    assert set(run.code_names) == {"INSUFFICIENT_CREDIT", "SYSTEM_BUSY"}
    assert run.scenario is not None and run.scenario.slo == {"success_rate": 0.99, "p99_ms": 1500}
    assert run.scenario.load_model == "arrival-rate"
    assert run.info is not None and run.info.stop_reason == "completed"
    assert run.payments is not None and run.payments.count == 2
    assert run.payments.latency_ms[0] == 35.0 and math.isnan(run.payments.latency_ms[1])
    assert run.payments.had_credit_failures_by_code == {"CLIENT_TIMEOUT": 1}
    assert run.faults[0].kind == "db_stall" and run.faults[0].ended_at_s is None
    assert run.gateway is not None and run.gateway.peak("inflight") == 3
    assert "new" not in run.gateway.columns
    assert run.audit is not None and not run.audit.ok and run.audit.checks[0].detail == '{"d":1}'
    assert run.reconcile is not None and run.reconcile.ghost_charges == 2
    assert run.has_locust_html


def test_optional_files_absent(run_dir: Path) -> None:
    write_run(run_dir, [row(0, 5)], scenario_doc={})
    run = load_run(run_dir)
    assert run.scenario is None and run.name == "flash-sale"  # from run.json
    assert (run.payments, run.gateway, run.audit, run.reconcile) == (None, None, None, None)
    assert run.faults == () and not run.has_locust_html


def test_run_json_alone_is_a_run_without_traffic(run_dir: Path) -> None:
    write_run(run_dir, None)
    run = load_run(run_dir)
    assert run.seconds == () and run.info is not None


def test_header_only_outcomes_is_an_empty_run(run_dir: Path) -> None:
    write_run(run_dir, [], info={})
    assert load_run(run_dir).seconds == ()


def test_unknown_slo_keys_and_nulls(run_dir: Path) -> None:
    write_run(run_dir, [row(0, 1)], scenario_doc=scenario({"p95_ms": None, "dropped_rate": 0.01}))
    run = load_run(run_dir)
    assert run.scenario is not None and run.scenario.slo == {"dropped_rate": 0.01}


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        (lambda d: None, "not a paystorm run"),
        (lambda d: (d / "outcomes.csv").write_text(""), "outcomes.csv: empty file"),
        (lambda d: (d / "outcomes.csv").write_text("time,users\n0,1\n"), "missing column"),
    ],
)
def test_not_a_run(run_dir: Path, setup: Callable[[Path], object], needle: str) -> None:
    run_dir.mkdir()
    setup(run_dir)
    with pytest.raises(RunError, match=needle):
        load_run(run_dir)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="no such directory"):
        load_run(tmp_path / "nope")


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        ("1,10,10,0,10,10,0,10,x,0,0,0,20,50,80", "line 3, column 'succeeded': expected a whole"),
        ("1,10,10,0,10,10,0,10,10.5,0,0,0,20,50,80", "'succeeded': expected a whole number"),
        ("1,10,10,0,10,10", "truncated or malformed row"),
        ("1,10,10,0,10,10,0,10,10,0,0,0,20,50,fast", "'p99_ms': expected a number"),
        ("1,10,10,0,10,3,5,10,10,0,0,0,20,50,80", "had_credit_failed 5 exceeds had_credit 3"),
        ("1,10,10,0,10,10,0,-1,10,0,0,0,20,50,80", "negative count"),
        ("0,10,10,0,10,10,0,10,10,0,0,0,20,50,80", "second 0 appears twice"),
    ],
)
def test_malformed_outcomes(run_dir: Path, edit: str, needle: str) -> None:
    write_run(run_dir, [row(0, 10), row(1, 10), row(2, 10)])
    path = run_dir / "outcomes.csv"
    lines = path.read_text().splitlines()
    assert lines[0].startswith("time,users,offered") and lines[0].count(",") == 14
    lines[2] = edit
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RunError, match=needle) as caught:
        load_run(run_dir)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message


def _line_without(field: str) -> str:
    line = payment(0.1, 5.0)
    del line[field]
    return json.dumps(line)


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        (
            "payments.jsonl",
            '{"start_s": 0.1, "latency_ms": 5, "had_credit": true, "outco',
            "line 1",
        ),
        ("payments.jsonl", _line_without("latency_ms"), "line 1: latency_ms: required"),
        (
            "payments.jsonl",
            '{"start_s": "0", "latency_ms": 1, "had_credit": true, "outcome": "failed"}',
            "line 1: start_s: expected a number, got '0'",
        ),
        (
            "payments.jsonl",
            '{"start_s": 0, "latency_ms": 1, "had_credit": 1, "outcome": "failed"}',
            "line 1: had_credit: expected true or false, got 1",
        ),
        (
            "payments.jsonl",
            '{"start_s": 0, "latency_ms": 1, "had_credit": true, "outcome": "lost"}',
            "line 1: outcome: expected one of declined, failed, succeeded, unknown, got 'lost'",
        ),
        ("faults.json", '{"kind": "latency"}', "expected a JSON list"),
        ("faults.json", '[{"kind": "latency"}]', "needs 'kind' and 'started_at_s'"),
        ("faults.json", "[", "not valid JSON"),
        ("run.json", '{"duration_s": "long"}', "'duration_s' must be float"),
        ("scenario.yaml", "name: [unclosed", "not valid YAML"),
        ("scenario.yaml", "name: x\nslo: {success_rate: 1.5}", "slo.success_rate"),
        ("scenario.yaml", "name: x\nslo: {p99_ms: fast}", "'slo.p99_ms' must be float"),
        ("scenario.yaml", "- a list", "top level must be an object"),
        ("audit.json", '{"checks": {}}', "missing field 'ok'"),
        ("reconcile.json", '{"ghost_charges": "none"}', "'ghost_charges' must be int"),
        ("gateway_metrics.csv", "time,inflight\n0,many\n", "'inflight': expected a number"),
    ],
)
def test_malformed_files(run_dir: Path, name: str, content: str, needle: str) -> None:
    write_run(run_dir, [row(0, 10)])
    (run_dir / name).write_text(content + "\n")
    with pytest.raises(RunError, match=needle) as caught:
        load_run(run_dir)
    assert name in str(caught.value) and "\n" not in str(caught.value)


def test_empty_payment_log_is_ignored(run_dir: Path) -> None:
    write_run(run_dir, [row(0, 10)], payments=[])
    assert (run_dir / "payments.jsonl").exists() and load_run(run_dir).payments is None


LOCUST_STATS = """Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,\
Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,\
90%,95%,98%,99%,99.9%,99.99%,100%
GET,/v1/accounts/[user_id],200,0,1,1.0,0.2,12.5,106,24.9,0.0,1,1,1,1,1,2,5,8,9,9,13
POST,/v1/payments,300,120,6,27.2,0.3,345.7,281,35.0,15.2,6,38,47,54,71,89,110,130,200,270,350
,Aggregated,500,120,1,16.3,0.2,345.7,208,59.9,15.2,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A
"""
LOCUST_FAILURES = """Method,Name,Error,Occurrences,First Seen,Last Seen
POST,/v1/payments,CatchResponseError('MERCHANT_NOT_SUPPORTED'),11,2026-11-25T17:04:23Z,x
POST,/v1/payments,CatchResponseError('CHANNEL_UNAVAILABLE'),109,2026-11-25T17:04:46Z,x
"""


def test_reads_locust_csvs(run_dir: Path) -> None:
    write_run(run_dir, [row(0, 1)])
    (run_dir / "locust_stats.csv").write_text(LOCUST_STATS)
    (run_dir / "locust_failures.csv").write_text(LOCUST_FAILURES)
    run = load_run(run_dir)
    accounts, pay, total = run.endpoints
    assert (pay.method, pay.name, pay.requests, pay.failures) == ("POST", "/v1/payments", 300, 120)
    assert (pay.median_ms, pay.p95_ms, pay.p99_ms, pay.max_ms) == (6, 89, 130, 345.7)
    assert accounts.requests_per_s == 24.9
    assert total.name == "Aggregated" and total.p99_ms is None  # Locust's "N/A"
    assert [(e.error, e.occurrences) for e in run.locust_errors] == [
        ("CatchResponseError('CHANNEL_UNAVAILABLE')", 109),
        ("CatchResponseError('MERCHANT_NOT_SUPPORTED')", 11),
    ]


def test_gateway_channel_columns(run_dir: Path) -> None:
    gateway = [{"time": 0, "inflight": 1, "queued": 2, "breaker_bank_a": 2, "channel_busy_b_c": 3}]
    write_run(run_dir, [row(0, 1)], gateway=gateway)
    metrics = load_run(run_dir).gateway
    assert metrics is not None and metrics.columns["queued"] == (2,)
    assert metrics.channels == {"breaker": {"bank_a": (2,)}, "channel_busy": {"b_c": (3,)}}


def test_a_reconcile_that_could_not_read_the_ledger(run_dir: Path) -> None:
    # The runner writes only the error when the ledger cannot be read: a run, not a bad file.
    write_run(run_dir, [row(0, 1)], reconcile={"error": "could not read the ledger: timed out"})
    reconcile = load_run(run_dir).reconcile
    assert reconcile is not None and reconcile.ghost_charges is None
    assert reconcile.error == "could not read the ledger: timed out"


def test_payment_log_keeps_outcomes_and_attempts(run_dir: Path) -> None:
    payments = [payment(0.5, 10.0), payment(1.5, 20.0, "failed", code="SYSTEM_BUSY")]
    payments[1]["attempts"] = 3
    del payments[0]["attempts"]
    write_run(run_dir, [row(0, 1), row(1, 1)], payments=payments)
    log = load_run(run_dir).payments
    assert log is not None
    assert log.outcome.tolist() == [0, 2] and log.attempts.tolist() == [-1, 3]
    assert log.had_credit_failures_by_second == {(1, "SYSTEM_BUSY"): 1}


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        (
            "payments.jsonl",
            '{"start_s": 0, "latency_ms": 1, "had_credit": true, "outcome": "failed", '
            '"attempts": -2}',
            "line 1: attempts: expected a whole number >= 0, got -2",
        ),
        (
            "payments.jsonl",
            '{"start_s": 0, "latency_ms": 1, "had_credit": true, "outcome": "failed", '
            '"attempts": 1.5}',
            "line 1: attempts: expected a whole number, got 1.5",
        ),
        ("gateway_metrics.csv", "time,breaker_bank_a\n0,7\n", "expected a breaker state"),
        ("locust_stats.csv", "Type,Name\nGET,/x\n", "missing column(s) Request Count"),
        (
            "locust_failures.csv",
            "Method,Name,Error,Occurrences\nGET,/x,boom,many\n",
            "'Occurrences'",
        ),
        ("reconcile.json", "{}", "missing field 'ghost_charges'"),
    ],
)
def test_malformed_new_fields(run_dir: Path, name: str, content: str, needle: str) -> None:
    write_run(run_dir, [row(0, 10)])
    (run_dir / name).write_text(content + "\n")
    with pytest.raises(RunError, match=re.escape(needle)) as caught:
        load_run(run_dir)
    assert name in str(caught.value) and "\n" not in str(caught.value)

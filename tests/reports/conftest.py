"""Builders of small results folders, written from Python data, for the report tests."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract.columns import OUTCOME_COLUMNS

BASE_COLUMNS = OUTCOME_COLUMNS

Row = dict[str, Any]


def row(
    time: int,
    offered: int,
    *,
    success: float = 1.0,
    dropped: int = 0,
    declined: int = 0,
    unknown_share: float = 0.0,
    latency_ms: tuple[float | None, float | None, float | None] = (20.0, 50.0, 80.0),
    failure_code: str = "SYSTEM_BUSY",
) -> Row:
    """A consistent outcomes.csv row: `success` is the share of had-credit payments that succeed.

    Payments = offered - dropped; `declined` of them lacked credit (INSUFFICIENT_CREDIT); of
    the had-credit failures, `unknown_share` end CLIENT_TIMEOUT, the rest `failure_code`.
    """
    payments = offered - dropped
    had_credit = payments - declined
    had_credit_failed = round(had_credit * (1.0 - success))
    unknown = round(had_credit_failed * unknown_share)
    failed = had_credit_failed - unknown
    codes = {"INSUFFICIENT_CREDIT": declined, failure_code: failed, "CLIENT_TIMEOUT": unknown}
    p50, p95, p99 = latency_ms if payments else (None, None, None)
    return {
        "time": time,
        "users": payments,
        "offered": offered,
        "dropped": dropped,
        "payments": payments,
        "had_credit": had_credit,
        "had_credit_failed": had_credit_failed,
        "attempts": payments + failed,
        "succeeded": had_credit - had_credit_failed,
        "declined": declined,
        "failed": failed,
        "unknown": unknown,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        **{f"code_{code}": count for code, count in codes.items() if count},
    }


def scenario(slo: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A resolved scenario with every field the report reads."""
    doc: dict[str, Any] = {
        "name": "flash-sale",
        "description": "A quiet shop; the flash sale opens and traffic jumps tenfold.",
        "duration_s": 60,
        "load": {"model": "arrival-rate", "max_users": 400, "stages": []},
        "slo": dict(slo) if slo is not None else {"success_rate": 0.99, "p99_ms": 1500},
    }
    doc.update(fields)
    return doc


def run_info(**fields: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "scenario": "flash-sale",
        "started_at": "2026-11-25T15:00:00.000Z",
        "ended_at": "2026-11-25T15:01:00.500Z",
        "duration_s": 60,
        "target": "http://127.0.0.1:41234",
        "stop_reason": "completed",
        "stop_detail": None,
        "locust_exit_code": 0,
    }
    info.update(fields)
    return info


def payment(
    start_s: float,
    latency_ms: float | None,
    outcome: str = "succeeded",
    *,
    had_credit: bool = True,
    code: str | None = None,
    network: str = "normal",
) -> dict[str, Any]:
    return {
        "type": "shopper",
        "network": network,
        "city": "",
        "key": f"k{start_s}",
        "payment_id": None,
        "user_id": "u000001",
        "merchant_id": "m00001",
        "amount": 1000,
        "credit_shown": 5000 if had_credit else 10,
        "had_credit": had_credit,
        "start_s": start_s,
        "latency_ms": latency_ms,
        "lateness_ms": 0.0,
        "attempts": 1,
        "codes": [code] if code else [],
        "outcome": outcome,
        "code": code,
    }


def payments_for(rows: Iterable[Row], latency_ms: float = 40.0) -> list[dict[str, Any]]:
    """payments.jsonl lines that add up to `row()`s exactly (the run's self-check holds):
    per second its succeeded, declined, failed (retried once) and unknown payments."""
    lines = []
    for r in rows:
        t = int(r["time"])
        failed_code = next(
            (k[5:] for k in r if k.startswith("code_") and k[5:] not in NOT_FAILED_CODES), None
        )
        kinds = (
            [("succeeded", None, True)] * r["succeeded"]
            + [("declined", "INSUFFICIENT_CREDIT", False)] * r["declined"]
            + [("failed", failed_code, True)] * r["failed"]
            + [("unknown", "CLIENT_TIMEOUT", True)] * r["unknown"]
        )
        for i, (outcome, code, had_credit) in enumerate(kinds):
            line = payment(
                t + i / max(1, len(kinds)), latency_ms, outcome, had_credit=had_credit, code=code
            )
            line["key"] = f"k{t}-{i}"
            line["attempts"] = 2 if outcome == "failed" else 1
            lines.append(line)
    return lines


NOT_FAILED_CODES = frozenset({"INSUFFICIENT_CREDIT", "CLIENT_TIMEOUT"})


def write_outcomes(path: Path, rows: Iterable[Row]) -> None:
    rows = list(rows)
    codes = sorted({k for r in rows for k in r if k.startswith("code_")})
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*BASE_COLUMNS, *codes], restval="")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: "" if v is None else v for k, v in r.items()})


def write_run(
    path: Path,
    rows: Iterable[Row] | None = (),
    *,
    scenario_doc: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
    payments: Iterable[Mapping[str, Any]] | None = None,
    faults: list[dict[str, Any]] | None = None,
    gateway: Iterable[Mapping[str, Any]] | None = None,
    audit: Mapping[str, Any] | None = None,
    reconcile: Mapping[str, Any] | None = None,
) -> Path:
    """Write a results folder at `path`; None leaves that file out (rows=None: no outcomes.csv).

    The scenario and run.json default to `scenario()` and `run_info()`; pass {} to leave them out.
    """
    path.mkdir(parents=True, exist_ok=True)
    if rows is not None:
        write_outcomes(path / "outcomes.csv", rows)
    scenario_doc = scenario() if scenario_doc is None else scenario_doc
    if scenario_doc:
        (path / "scenario.yaml").write_text(yaml.safe_dump(dict(scenario_doc)))
    info = run_info() if info is None else info
    if info:
        (path / "run.json").write_text(json.dumps(info))
    if payments is not None:
        lines = (json.dumps(p) + "\n" for p in payments)
        (path / "payments.jsonl").write_text("".join(lines))
    if faults is not None:
        (path / "faults.json").write_text(json.dumps(faults))
    if gateway is not None:
        gateway = list(gateway)
        with (path / "gateway_metrics.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(gateway[0]) if gateway else ["time"])
            writer.writeheader()
            writer.writerows(gateway)
    if audit is not None:
        (path / "audit.json").write_text(json.dumps(audit))
    if reconcile is not None:
        (path / "reconcile.json").write_text(json.dumps(reconcile))
    return path


def ladder(
    rates: Iterable[int], success_at: Mapping[int, float] | None = None, **kwargs: Any
) -> list[Row]:
    """One row per rate, at seconds 0, 1, 2 …; `success_at` maps a rate to its success share."""
    success_at = success_at or {}
    return [row(t, r, success=success_at.get(r, 1.0), **kwargs) for t, r in enumerate(rates)]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """Where a test writes its results folder."""
    return tmp_path / "flash-sale-20261125T150000Z"

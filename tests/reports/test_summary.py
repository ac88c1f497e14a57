"""summarize: every summary.json field from known counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reports.run import load_run
from reports.summary import evaluate_slo, summarize
from tests.reports.conftest import payment, row, run_info, scenario, write_run


def _summary(run_dir: Path, rows: list[dict[str, Any]], **files: Any) -> dict[str, Any]:
    write_run(run_dir, rows, **files)
    return summarize(load_run(run_dir))


def test_totals_and_rates(run_dir: Path) -> None:
    rows = [
        row(0, 100, declined=10, success=0.9),  # 90 had credit, 9 failed
        row(1, 200, dropped=20, success=0.95),  # 180 had credit, 9 failed
        row(2, 0),  # a quiet second: not traffic
    ]
    s = _summary(run_dir, rows)
    assert s["had_credit"] == 270 and s["had_credit_failures"] == 18
    # The 20 dropped arrivals count as people who had credit and could not pay.
    assert s["people_with_credit"] == 290
    assert s["success_rate"] == pytest.approx(252 / 290)
    assert s["success_rate_of_served"] == pytest.approx(1 - 18 / 270)
    assert s["had_credit_failure_rate"] == pytest.approx(1 - 252 / 290)
    assert (s["offered"], s["dropped"], s["payments"]) == (300, 20, 280)
    assert s["dropped_rate"] == pytest.approx(20 / 300)
    assert (s["succeeded"], s["declined"], s["failed"], s["unknown"]) == (252, 10, 18, 0)
    assert s["attempts"] == 280 + 18
    assert s["throughput"]["seconds_with_traffic"] == 2
    assert s["throughput"]["mean_succeeded_per_s"] == pytest.approx(252 / 2)
    assert s["throughput"]["peak_succeeded_per_s"] == 171
    assert s["scenario"] == "flash-sale" and s["stop_reason"] == "completed"
    assert s["duration_s"] == pytest.approx(60.5)  # ended_at - started_at


def test_no_credit_means_no_success_rate_and_a_failed_objective(run_dir: Path) -> None:
    s = _summary(run_dir, [row(0, 10, declined=10)])
    assert s["success_rate"] is None and s["had_credit_failure_rate"] is None
    success = next(o for o in s["slo"] if o["name"] == "success_rate")
    assert (
        success["measured"] is None
        and not success["passed"]
        and "no payment had credit" in (success["note"])
    )


def test_slo_pass_and_fail(run_dir: Path) -> None:
    slo = {"success_rate": 0.99, "p99_ms": 100, "dropped_rate": 0.05, "p95_ms": None}
    s = _summary(run_dir, [row(0, 100, dropped=10)], scenario_doc=scenario(slo))
    by_name = {o["name"]: o for o in s["slo"]}
    assert list(by_name) == ["success_rate", "p99_ms", "dropped_rate"]
    # Every payment served succeeded, but a tenth of the people were turned away.
    assert by_name["success_rate"] == {
        "name": "success_rate",
        "target": 0.99,
        "measured": pytest.approx(0.9),
        "passed": False,
        "comparison": ">=",
        "meaning": "success rate of the people with credit, dropped arrivals counted as not served",
    }
    assert by_name["p99_ms"]["measured"] == 80.0 and by_name["p99_ms"]["passed"]
    assert by_name["dropped_rate"]["measured"] == pytest.approx(0.1)
    assert not by_name["dropped_rate"]["passed"] and by_name["dropped_rate"]["comparison"] == "<="
    assert s["slo_passed"] is False


def test_exactly_on_target_passes() -> None:
    [o] = evaluate_slo({"success_rate": 0.99}, {"success_rate": 1 - 3 / 300})
    assert o["passed"]


def test_no_objectives_pass(run_dir: Path) -> None:
    closed = scenario({}, load={"model": "users", "stages": []})
    s = _summary(run_dir, [row(0, 10, success=0.5)], scenario_doc=closed)
    assert s["slo"] == [] and s["slo_passed"] is True and s["knee"]["offered_per_s"] is None


def test_an_open_model_run_is_judged_on_its_drops_unless_it_says_otherwise(
    run_dir: Path,
) -> None:
    s = _summary(run_dir, [row(0, 1000, dropped=1)], scenario_doc=scenario({}))
    [dropped] = s["slo"]
    assert dropped["name"] == "dropped_rate" and dropped["implicit"] is True
    assert dropped["target"] == 0.001 and dropped["passed"] and s["generator"] is None
    s = _summary(run_dir, [row(0, 1000, dropped=2)], scenario_doc=scenario({}))
    assert not s["slo_passed"] and "turned away 2 of 1,000 arrivals" in s["generator"]
    own = scenario({"dropped_rate": 0.01})
    s = _summary(run_dir, [row(0, 1000, dropped=2)], scenario_doc=own)
    [dropped] = s["slo"]
    assert dropped["passed"] and "implicit" not in dropped


def test_the_headline_never_rises_when_more_arrivals_are_dropped(run_dir: Path) -> None:
    # The same payments served, more people turned away: the rate can only fall, each of
    # them counted as a person with credit who could not pay (the run never learnt).
    rates = []
    for dropped in (0, 10, 100, 500):
        rows = [row(0, 1000 + dropped, dropped=dropped, success=0.8, declined=50)]
        rates.append(_summary(run_dir, rows)["success_rate"])
    assert rates == sorted(rates, reverse=True) and rates[0] > rates[-1]
    assert rates[0] == pytest.approx(760 / 950) and rates[-1] == pytest.approx(760 / 1450)


def test_the_generator_note_names_the_pool_that_was_needed(run_dir: Path) -> None:
    info = run_info(pool={"users": 20, "needed": 2510, "explicit": True})
    rows = [{**row(0, 100, dropped=46), "users": 20}]
    s = _summary(run_dir, rows, info=info)
    assert "Every one of its 20 users was busy" in s["generator"]
    assert "2,510 (load.max_users" in s["generator"]
    info = run_info(pool={"users": 4000, "needed": 4000, "explicit": False})
    rows = [{**row(0, 100, dropped=46), "users": 300}]
    s = _summary(run_dir, rows, info=info)
    assert "never all busy in one second (at most 300)" in s["generator"]


def test_the_generator_note_says_when_payments_began_late(run_dir: Path) -> None:
    on_time = [{**payment(i / 10, 20.0), "lateness_ms": 1.5} for i in range(100)]
    s = _summary(run_dir, [row(0, 100)], payments=on_time)
    assert s["lateness_ms"] == {"p50": 1.5, "p99": 1.5, "max": 1.5} and s["generator"] is None
    late = on_time[:98] + [{**p, "lateness_ms": 250.0} for p in on_time[98:]]
    s = _summary(run_dir, [row(0, 100)], payments=late)
    assert s["lateness_ms"]["max"] == 250.0
    assert "began payments late, p99" in s["generator"] and "at most 250 ms" in s["generator"]


def test_ghost_charges_from_reconcile(run_dir: Path) -> None:
    slo = scenario({"ghost_charges": 0})
    s = _summary(run_dir, [row(0, 10)], scenario_doc=slo, reconcile={"ghost_charges": 3})
    assert s["ghost_charges"] == 3 and s["slo"][0]["measured"] == 3 and not s["slo_passed"]


def test_ghost_charges_unknown_without_reconcile(run_dir: Path) -> None:
    s = _summary(run_dir, [row(0, 10)], scenario_doc=scenario({"ghost_charges": 0}))
    ghosts = next(o for o in s["slo"] if o["name"] == "ghost_charges")
    assert s["ghost_charges"] is None and ghosts["measured"] is None and not ghosts["passed"]
    assert "reconcile.json" in ghosts["note"]


def test_unknown_objective_fails_visibly(run_dir: Path) -> None:
    s = _summary(run_dir, [row(0, 10)], scenario_doc=scenario({"p999_ms": 5}))
    [o] = [o for o in s["slo"] if not o.get("implicit")]
    assert o["name"] == "p999_ms" and not o["passed"] and "not an objective" in o["note"]


def test_latency_and_causes_from_payments(run_dir: Path) -> None:
    latencies = [float(v) for v in range(1, 101)]  # 1..100 ms
    payments = [payment(i / 100, v) for i, v in enumerate(latencies)]
    payments += [
        payment(0.5, 10.0, "failed", code="SYSTEM_BUSY"),
        payment(0.6, 10.0, "unknown", code="CLIENT_TIMEOUT"),
        payment(0.7, 10.0, "unknown", code=None),
        payment(0.8, 10.0, "declined", code="INSUFFICIENT_CREDIT", had_credit=False),
        payment(0.9, 10.0, "failed", code="SYSTEM_BUSY"),
    ]
    s = _summary(run_dir, [row(0, 105, success=0.96)], payments=payments)
    expected = np.percentile(latencies + [10.0] * 5, [50, 95, 99])
    assert s["latency_ms"]["source"] == "payments.jsonl"
    assert [s["latency_ms"][q] for q in ("p50", "p95", "p99")] == pytest.approx(expected)
    assert s["latency_ms"]["max"] == 100.0
    # Only had-credit payments that did not succeed, by final code; no-credit declines excluded.
    assert s["had_credit_failures_by_cause"] == {
        "SYSTEM_BUSY": 2,
        "CLIENT_TIMEOUT": 1,
        "NO_CODE": 1,
    }
    assert s["had_credit_failures_by_cause_source"] == "payments.jsonl"


def test_latency_and_causes_without_payments(run_dir: Path) -> None:
    rows = [
        row(0, 100, success=0.9, latency_ms=(10.0, 20.0, 30.0), failure_code="DB_TIMEOUT"),
        row(1, 100, success=0.8, unknown_share=0.5, latency_ms=(100.0, 200.0, 300.0)),
    ]
    s = _summary(run_dir, rows)
    latency = s["latency_ms"]
    assert latency["source"] == "outcomes.csv (approximate)"
    # Each second's payments: 50 % at its p50, 45 % at p95, 5 % at p99. Second 0 (all <= 30 ms)
    # holds half of all payments, so the median is 30 ms; 95 % is reached at second 1's p95.
    assert (latency["p50"], latency["p95"], latency["p99"], latency["max"]) == (30, 200, 300, 300)
    assert s["had_credit_failures_by_cause"] == {
        "SYSTEM_BUSY": 10,
        "DB_TIMEOUT": 10,
        "CLIENT_TIMEOUT": 10,
    }
    assert s["had_credit_failures_by_cause_source"] == "outcomes.csv"
    assert any("payments.jsonl is absent or empty" in note for note in s["notes"])


def test_audit_and_stop_reason(run_dir: Path) -> None:
    audit = {"ok": False, "checks": {"a": {"ok": True}, "b": {"ok": False, "detail": "x"}}}
    info = run_info(stop_reason="guard", stop_detail="success < 20 % for 15 s")
    s = _summary(run_dir, [row(0, 10)], audit=audit, info=info)
    assert s["audit_ok"] is False and s["audit_failed_checks"] == ["b"]
    assert s["stop_reason"] == "guard" and any("guard" in note for note in s["notes"])


def test_empty_run(run_dir: Path) -> None:
    s = _summary(run_dir, [], info=run_info(started_at=None, ended_at=None, duration_s=None))
    assert s["payments"] == 0 and s["success_rate"] is None and s["duration_s"] is None
    assert s["latency_ms"] == {
        "p50": None,
        "p95": None,
        "p99": None,
        "max": None,
        "source": "outcomes.csv (approximate)",
    }
    assert s["knee"] == {
        "offered_per_s": None,
        "held_to_max": False,
        "status": "no_traffic",
        "broke_at_per_s": None,
        "broken_by": [],
        "rate_per_s": None,
        "held_at_rate": None,
        "bin_width_per_s": None,
        "bins": [],
    }
    assert s["throughput"]["mean_succeeded_per_s"] is None and not s["slo_passed"]


def test_success_inside_and_outside_fault_windows(run_dir: Path) -> None:
    rows = [row(0, 100), row(1, 100, success=0.4), row(2, 100, success=0.5), row(3, 100)]
    rows.append(row(4, 0))  # no traffic: in neither part
    faults = [{"id": "f", "kind": "channel_outage", "started_at_s": 1.5, "ended_at_s": 2.2}]
    s = _summary(run_dir, rows, faults=faults)
    assert s["fault_windows"] == {
        "inside": {
            "seconds": 2,
            "had_credit": 200,
            "had_credit_failed": 110,
            "success_rate": pytest.approx(0.45),
        },
        "outside": {"seconds": 2, "had_credit": 200, "had_credit_failed": 0, "success_rate": 1.0},
    }
    assert s["attempts_per_payment"] == pytest.approx(510 / 400)  # each failure retried once


def test_no_faults_no_inside_rate(run_dir: Path) -> None:
    s = _summary(run_dir, [row(0, 10)])
    assert s["fault_windows"]["inside"] == {
        "seconds": 0,
        "had_credit": 0,
        "had_credit_failed": 0,
        "success_rate": None,
    }


def test_a_failed_ledger_cross_check_explains_the_unknown_objective(run_dir: Path) -> None:
    s = _summary(
        run_dir,
        [row(0, 10)],
        scenario_doc=scenario({"ghost_charges": 0}),
        reconcile={"error": "could not read the ledger: timed out"},
    )
    ghosts = next(o for o in s["slo"] if o["name"] == "ghost_charges")
    assert not ghosts["passed"] and "timed out" in ghosts["note"]
    assert any("cross-check could not run" in n for n in s["notes"])


def test_refund_lines_are_not_payments_and_their_cross_check_is_reported(run_dir: Path) -> None:
    refund = {
        **payment(0.4, 3.0, "unknown", code="DB_TIMEOUT"),
        "type": "refund",
        "had_credit": False,
    }
    payments = [payment(0.1, 10.0), payment(0.2, 20.0, "failed", code="SYSTEM_BUSY"), refund]
    reconcile = {"ghost_charges": 0, "refunds": 1, "lost_refunds": 0, "ghost_refunds": 1}
    s = _summary(run_dir, [row(0, 2, success=0.5)], payments=payments, reconcile=reconcile)
    # The refund's latency and code stay out of the payments' figures.
    assert s["latency_ms"]["max"] == 20.0
    assert s["had_credit_failures_by_cause"] == {"SYSTEM_BUSY": 1}
    assert s["refunds"] == {"count": 1, "lost": 0, "ghost": 1}
    assert any("1 given back while the refunder was told" in n for n in s["notes"])


def test_no_refunders_no_refund_figures(run_dir: Path) -> None:
    s = _summary(run_dir, [row(0, 10)], reconcile={"ghost_charges": 0})
    assert s["refunds"] is None


def test_objectives_per_population(run_dir: Path) -> None:
    """20 payments a second for 5 s, one in ten on a weak link: the weak links fail one in
    two and answer in 3 s, the others all succeed in 40 ms. Split, each population is judged
    by its own objectives, the dropped arrivals counted against both."""
    rows = [row(t, 20, success=0.95) for t in range(4)] + [row(4, 21, dropped=1, success=0.95)]
    payments = []
    for t in range(5):
        for i in range(20):
            weak = i % 10 == 0
            failed = weak and i % 20 == 0
            payments.append(
                payment(
                    t + 0.1,
                    3000.0 if weak else 40.0,
                    "failed" if failed else "succeeded",
                    code="SYSTEM_BUSY" if failed else None,
                    network="weak" if weak else "normal",
                )
            )
    split = {"success_rate": 0.99, "p99_ms": 100, "weak_network": {"success_rate": 0.4}}
    s = _summary(run_dir, rows, scenario_doc=scenario(split), payments=payments)
    verdicts = {o["name"]: o for o in s["slo"]}
    assert verdicts["success_rate"]["measured"] == pytest.approx(90 / 91)
    assert "normal links" in verdicts["success_rate"]["meaning"]
    assert verdicts["p99_ms"]["measured"] == pytest.approx(40.0) and verdicts["p99_ms"]["passed"]
    weak = verdicts["weak_network.success_rate"]
    assert weak["measured"] == pytest.approx(5 / 11) and weak["passed"]
    assert not verdicts["success_rate"]["passed"]  # the dropped arrival: 90 of 91
    # The headline still counts everyone.
    assert s["success_rate"] == pytest.approx(95 / 101)
    # Without the payment log the links cannot be told apart: the split objectives fail.
    (run_dir / "payments.jsonl").unlink()
    s = summarize(load_run(run_dir))
    weak = next(o for o in s["slo"] if o["name"] == "weak_network.success_rate")
    assert weak["measured"] is None and not weak["passed"] and "told apart" in weak["note"]

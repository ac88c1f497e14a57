"""End to end: every had-credit failure is put down to its cause, and retrying at once into a
limit multiplies the attempts each payment makes, against backing off."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.paystorm.runs import Finished, run_all

OPEN_40_PER_S: dict[str, Any] = {
    "duration_s": 6,
    "load": {"model": "arrival-rate", "max_users": 150, "stages": [{"until_s": 6, "rate": 40}]},
}


def test_causes_and_the_retry_storm(tmp_path: Path) -> None:
    limit = {"kind": "rate_limit", "params": {"rps": 15}, "target": {"route": "pay"}}
    # Bursts of 50/s for a second, then quiet: 100 payments in 6 s, within the limit on
    # average, over it in each burst.
    bursts = {
        "model": "arrival-rate",
        "max_users": 150,
        "stages": [
            {"until_s": 1, "rate": 50},
            {"until_s": 3, "rate": 0},
            {"until_s": 4, "rate": 50},
            {"until_s": 6, "rate": 0},
        ],
    }
    causes, storm, backoff = run_all(
        tmp_path,
        {
            **OPEN_40_PER_S,
            "name": "causes",
            "client": {"timeout_s": 5, "retry": "none"},
            "faults": [
                {"kind": "risk_strict", "params": {"false_positive_rate": 0.2}, "seed": 3},
                {"kind": "error", "params": {"code": "SYSTEM_BUSY", "rate": 0.2}, "seed": 4},
            ],
        },
        {
            **OPEN_40_PER_S,
            "name": "storm",
            "load": bursts,
            "client": {"timeout_s": 5, "retry": "immediate", "max_retries": 4},
            "faults": [limit],
        },
        {
            **OPEN_40_PER_S,
            "name": "backoff",
            "load": bursts,
            "client": {"timeout_s": 5, "retry": "backoff", "max_retries": 4},
            "faults": [limit],
        },
    )

    # Risk control and an injected error at once: each payment that had credit and did not
    # succeed is counted under the code that stopped it, and the counts add up.
    failures = [p for p in causes.payments if p["had_credit"] and p["outcome"] != "succeeded"]
    by_cause = causes.summary["had_credit_failures_by_cause"]
    assert by_cause == dict(Counter(p["code"] for p in failures))
    assert sum(by_cause.values()) == len(failures) > 0
    assert by_cause.get("RISK_DECLINED", 0) > 0 and by_cause.get("SYSTEM_BUSY", 0) > 0
    assert set(by_cause) <= {"RISK_DECLINED", "SYSTEM_BUSY", "MERCHANT_NOT_SUPPORTED"}
    # About a fifth of the payments each: the draws are the faults', not the report's.
    payments = len(causes.payments)
    assert 0.1 <= by_cause["RISK_DECLINED"] / payments <= 0.3
    assert 0.1 <= by_cause["SYSTEM_BUSY"] / payments <= 0.3

    # The same limit, the same bursts: retrying at once hammers the limit inside the burst and
    # is refused again; backing off for Retry-After lands in the quiet after it.
    def per_payment(run: Finished) -> float:
        return sum(int(p["attempts"]) for p in run.payments) / len(run.payments)

    assert per_payment(storm) >= 1.3 * per_payment(backoff), (
        per_payment(storm),
        per_payment(backoff),
    )
    assert storm.summary["attempts"] / storm.summary["payments"] == pytest.approx(
        per_payment(storm), rel=0.02
    )
    rate_limited = Counter(p["code"] for p in storm.payments)["RATE_LIMITED"]
    assert rate_limited > Counter(p["code"] for p in backoff.payments)["RATE_LIMITED"]

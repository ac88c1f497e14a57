"""End to end: the scenario's mix of shoppers, POS scans and refunders, and people on weak
mobile links — each recorded as what it is, and cross-checked against the ledger."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from tests.paystorm.runs import Finished, run_all


def _scenario(name: str, mix: dict[str, int], client: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "duration_s": 6,
        "load": {"model": "arrival-rate", "max_users": 120, "stages": [{"until_s": 6, "rate": 40}]},
        "mix": mix,
        "client": client,
    }


def _cross_check(run: Finished) -> dict[str, set[str]]:
    """The ledger cross-check done again from the run folder's own files: a ghost charge is a
    payment the ledger holds as captured (all or part of it still taken) while the client was
    not told it succeeded; a lost success the reverse. Refund lines are not payments."""
    lines = (run.run_dir / "ledger.jsonl").read_text().splitlines()
    status = {row["key"]: row["status"] for row in map(json.loads, lines)}
    payments = [p for p in run.payments if p["type"] != "refund"]
    charged = {"SUCCEEDED", "PARTIALLY_REFUNDED"}
    told = {p["key"] for p in payments if p["outcome"] == "succeeded"}
    return {
        "ghost_charges": {
            p["key"] for p in payments if p["key"] not in told and status.get(p["key"]) in charged
        },
        "lost_successes": {k for k in told if status.get(k) in (None, "FAILED")},
        "matched": {p["key"] for p in payments if p["key"] in status},
    }


def _assert_cross_check(run: Finished) -> dict[str, set[str]]:
    found = _cross_check(run)
    rec = run.reconcile
    for name, keys in found.items():
        assert rec[name] == len(keys), (name, rec[name], len(keys))
    # Each example the cross-check names is one of them, with what the client saw.
    for example in rec["examples"]:
        if example["kind"] in ("ghost_charge", "lost_success"):
            assert example["key"] in found[example["kind"] + "s"], example
    return found


def test_a_mix_of_people_is_served_as_weighed_and_every_refund_is_accounted_for(
    tmp_path: Path,
) -> None:
    careful, naive = run_all(
        tmp_path,
        _scenario(
            "careful",
            {"shopper": 50, "pos": 30, "refund": 20},
            {
                "timeout_s": 5,
                "retry": "backoff",
                "max_retries": 2,
                "resolve_uncertain": True,
                "weak_network_share": 0.4,
            },
        ),
        _scenario(
            "naive",
            {"shopper": 100},
            {"timeout_s": 2, "retry": "none", "weak_network_share": 1.0},
        ),
    )
    lines = careful.payments
    assert len(lines) >= 230  # 40/s for 6 s, none dropped at this rate
    counts = {kind: len(careful.of_type(kind)) for kind in ("shopper", "pos", "refund")}
    # Weighed 50:30:20, a refund arrival with nothing bought yet buys instead.
    assert 0.22 <= counts["pos"] / len(lines) <= 0.38, counts
    assert 0.10 <= counts["refund"] / len(lines) <= 0.26, counts
    assert counts["shopper"] / len(lines) >= 0.40, counts

    # A refund gives back part of a payment this run made and the client saw succeed.
    paid = {p["payment_id"]: p for p in lines if p["type"] != "refund"}
    for refund in careful.of_type("refund"):
        bought = paid[refund["payment_id"]]
        assert bought["outcome"] == "succeeded"
        assert 0 < refund["amount"] < bought["amount"] or bought["amount"] == 1
        assert refund["had_credit"] is False  # outside the success rate
    rec = careful.reconcile
    assert rec["refunds"] == counts["refund"] > 0
    assert rec["lost_refunds"] == 0 and rec["ghost_refunds"] == 0
    # The success rate and the ledger cross-check are over payments, not refunds.
    assert rec["payments"] == counts["shopper"] + counts["pos"] == careful.summary["payments"]
    assert rec["ghost_charges"] == 0 and rec["lost_successes"] == 0
    assert _assert_cross_check(careful)["matched"]

    # Every person shops from a city of the seed's; a refunder from the buyer's.
    assert all(p["city"] for p in lines)
    assert all(r["city"] == paid[r["payment_id"]]["city"] for r in careful.of_type("refund"))

    # POS scans go over the shop's line; weak links are slow and drop connections, and a
    # careful client finds out what became of the payment.
    assert all(p["network"] == "normal" for p in careful.of_type("pos"))
    weak = [p for p in lines if p["network"] == "weak"]
    normal = [p for p in careful.of_type("shopper") if p["network"] == "normal"]
    assert 0.25 <= len(weak) / (counts["shopper"] + counts["refund"]) <= 0.55
    assert statistics.median(p["latency_ms"] for p in weak) > 2 * statistics.median(
        p["latency_ms"] for p in normal
    )
    assert any("CONNECTION_ERROR" in p["codes"] and p["outcome"] == "succeeded" for p in weak)

    # Nobody resolves anything on the naive app: the weak network is a cause of its own, and
    # an answer dropped after the gateway captured the money is a ghost charge.
    causes = naive.summary["had_credit_failures_by_cause"]
    assert causes.get("CONNECTION_ERROR", 0) > 0, causes
    assert all(p["network"] == "weak" for p in naive.payments)
    ghosts = _assert_cross_check(naive)["ghost_charges"]
    assert ghosts, naive.reconcile
    # Each of them is a payment whose answer the person never heard.
    by_key = {p["key"]: p for p in naive.payments}
    assert {by_key[k]["code"] for k in ghosts} <= {"CONNECTION_ERROR", "CLIENT_TIMEOUT"}
    assert all(
        e["client_code"] in ("CONNECTION_ERROR", "CLIENT_TIMEOUT")
        for e in naive.reconcile["examples"]
        if e["kind"] == "ghost_charge"
    )

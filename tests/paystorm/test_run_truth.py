"""End to end: the per-payment truth, cross-checked against the ledger, catches ghost charges.

Lost responses hit replays as well as first attempts, each with its own draw: a client that
retries with backoff but never resolves loses all four answers of about 0.3^4 of its payments
and leaves them charged (ghost charges), while a client that resolves uncertain results
replays until it hears and leaves none. Both counts are recomputed here from the run folder's
two views — the ledger's (`ledger.jsonl`) and the client's (`payments.jsonl`) — and must equal
what the runner's cross-check wrote (`reconcile.json`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.paystorm.runs import Finished, run_all

RATE = 70
DURATION_S = 20
LOSS = 0.3
ATTEMPTS = 4  # the first and max_retries 3
# About 1,400 payments: 0.3^4 of them, ~11, lose every answer; some 90 % of those are
# captured (the rest are declines), so no ghost charge at all is under a 1-in-20,000 chance.
EXPECTED_ALL_LOST = RATE * DURATION_S * LOSS**ATTEMPTS

LOST: dict[str, Any] = {
    "duration_s": DURATION_S,
    "load": {
        "model": "arrival-rate",
        "max_users": 100,
        "stages": [{"until_s": DURATION_S, "rate": RATE}],
    },
    "gateway": {"settle": {"delay_s": 0.5}},
    "faults": [
        {"kind": "lost_response", "target": {"route": "pay", "probability": LOSS}, "seed": 5}
    ],
}
RETRYING = {"timeout_s": 2, "retry": "backoff", "max_retries": ATTEMPTS - 1}
# Replays for up to 8 s after the retries: at least ten attempts in all, 0.3^10 per payment.
RESOLVING = {**RETRYING, "resolve_uncertain": True, "resolve_deadline_s": 8}

# Money still taken from the person: the ledger statuses scenarios/reconcile.py counts.
CHARGED = frozenset({"SUCCEEDED", "PARTIALLY_REFUNDED"})
LOST_ANSWER = "CONNECTION_ERROR"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _ghost_charges(run: Finished) -> list[dict[str, Any]]:
    """Payments the ledger holds as charged while the client was not told they succeeded."""
    ledger = {row["key"]: row for row in _lines(run.run_dir / "ledger.jsonl")}
    assert ledger, "the ledger holds this run's payments"
    assert all(row["status"] != "REFUNDED" for row in ledger.values()), "no refunds here"
    return [
        p
        for p in _lines(run.run_dir / "payments.jsonl")
        if p["type"] != "refund"
        and p["outcome"] != "succeeded"
        and ledger.get(p["key"], {}).get("status") in CHARGED
    ]


def _check_counts(run: Finished) -> list[dict[str, Any]]:
    ghosts = _ghost_charges(run)
    assert run.reconcile["ghost_charges"] == len(ghosts) == run.summary["ghost_charges"]
    examples = {e["key"] for e in run.reconcile["examples"] if e["kind"] == "ghost_charge"}
    assert examples <= {g["key"] for g in ghosts}
    assert run.reconcile["lost_successes"] == 0
    # Replays lost their answers too: more than one lost answer under one key.
    assert sum(p["codes"].count(LOST_ANSWER) > 1 for p in run.payments) > 0
    return ghosts


def test_lost_responses_make_ghost_charges_unless_the_client_resolves_them(
    tmp_path: Path,
) -> None:
    retrying, resolving = run_all(
        tmp_path,
        {**LOST, "name": "retrying", "client": RETRYING},
        {**LOST, "name": "resolving", "client": RESOLVING},
    )

    assert EXPECTED_ALL_LOST >= 8
    ghosts = _check_counts(retrying)
    assert len(ghosts) > 0
    for g in ghosts:
        assert g["outcome"] == "unknown" and g["code"] in (LOST_ANSWER, "CLIENT_TIMEOUT"), g
    assert any(g["codes"] == [LOST_ANSWER] * ATTEMPTS for g in ghosts)
    # A replay draws its own chance: after a lost first answer, about 30 % of the first
    # replays are lost too (hundreds of payments: 0.15..0.45 is over six standard deviations).
    lost_first = [p for p in retrying.payments if p["codes"][:1] == [LOST_ANSWER]]
    again = sum(p["codes"][1:2] == [LOST_ANSWER] for p in lost_first) / len(lost_first)
    assert 0.15 <= again <= 0.45, (again, len(lost_first))

    assert _check_counts(resolving) == []
    # It met the same lost responses, and replaying the key told it what had happened.
    assert any(
        LOST_ANSWER in p["codes"] and p["outcome"] == "succeeded" for p in resolving.payments
    )

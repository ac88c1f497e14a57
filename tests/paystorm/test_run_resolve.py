"""End to end: a client that resolves uncertainty leaves nobody charged for a payment it gave
up on. Every payment sent in the first second hangs and answers 504 CHANNEL_TIMEOUT, and the
gateway would settle it only long after the client's deadline: the shopper's app replays the
key and the POS terminal looks the payment up until `resolve_deadline_s`, then each reverses
it (REVERSED_BY_CLIENT), the ledger says REVERSED, the credit is released, and the cross-check
finds no ghost charge.

(A timeout fault may or may not also hang a replay of the stored answer; the outcome stays
uncertain until the deadline either way, and these tests hold for both.)"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from contract.codes import REVERSED_BY_CLIENT, UNCERTAIN
from tests.paystorm.runs import Finished, run_all

RATE, DURATION_S = 20, 4
WINDOW_S = 1.0  # every payment sent in the first second hangs
HANG_MS = 300  # well inside the client's timeout: the client hears the 504 and its payment id
DEADLINE_S = 2  # whole seconds: the runner derives Locust's --stop-timeout from it
SETTLE_S = 60.0  # the gateway settles a PENDING payment only long after the deadline
MAX_RETRIES = 1
LOST_FOR_S = 4.0  # every answer to a payment attempt or replay is lost this long


def _scenario(name: str, mix: dict[str, int], retry: str, resolve: bool) -> dict[str, Any]:
    return {
        "name": name,
        "duration_s": DURATION_S,
        "load": {
            "model": "arrival-rate",
            "max_users": 80,
            "stages": [{"until_s": DURATION_S, "rate": RATE}],
        },
        "mix": mix,
        "client": {
            "timeout_s": 2,
            "retry": retry,
            "max_retries": MAX_RETRIES if retry != "none" else 0,
            "resolve_uncertain": resolve,
            "resolve_deadline_s": DEADLINE_S,
        },
        "gateway": {"settle": {"delay_s": SETTLE_S}},
        "faults": [
            {
                "kind": "timeout",
                "params": {"ms": HANG_MS},
                "target": {"route": "pay", "probability": 1},
                "start_in_s": 0,
                "duration_s": WINDOW_S,
            }
        ],
    }


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _reversed_by_the_client(run: Finished, kind: str) -> list[dict[str, Any]]:
    """The payments the fault hit, each checked to have been reversed at its deadline; and
    the run's ledger, audit and cross-check checked to agree."""
    lines = run.of_type(kind)
    assert len(lines) == len(run.payments) >= RATE * DURATION_S * 0.95
    (window,) = json.loads((run.run_dir / "faults.json").read_text())
    assert window["kind"] == "timeout" and window["ended_at_s"] is not None

    hit = [p for p in lines if "CHANNEL_TIMEOUT" in p["codes"]]
    # The first second's payments (about RATE of them), and only payments due in the window.
    assert len(hit) >= RATE * WINDOW_S * 0.6, len(hit)
    assert all(p["start_s"] <= window["ended_at_s"] for p in hit)
    for p in hit:
        assert p["codes"][0] == "CHANNEL_TIMEOUT", p
        # Uncertain to the end, then reversed: nothing else told the client the outcome.
        assert all(code in UNCERTAIN for code in p["codes"][:-1]), p
        assert p["codes"][-1] == REVERSED_BY_CLIENT, p
        assert p["code"] == REVERSED_BY_CLIENT and p["outcome"] == "failed", p
        assert p["payment_id"] is not None, p
        # The client waited out its deadline (timed from when it began resolving).
        assert p["latency_ms"] >= DEADLINE_S * 1000, p
    # Reversal is only for the payments left uncertain; every other one has a definite end.
    assert [p for p in lines if p["code"] == REVERSED_BY_CLIENT] == hit
    assert all(p["outcome"] != "unknown" for p in lines), [
        p for p in lines if p["outcome"] == "unknown"
    ]
    assert any(p["outcome"] == "succeeded" for p in lines)

    # The ledger reversed exactly those payments, under their keys.
    ledger = {row["key"]: row for row in _jsonl(run.run_dir / "ledger.jsonl")}
    for p in hit:
        assert ledger[p["key"]]["status"] == "REVERSED", (p, ledger[p["key"]])
        assert ledger[p["key"]]["payment_id"] == p["payment_id"]
    reversed_keys = {key for key, row in ledger.items() if row["status"] == "REVERSED"}
    assert reversed_keys == {p["key"] for p in hit}
    assert not [row for row in ledger.values() if row["status"] == "PENDING"]

    # The credit is back: nothing is held, every account equals its ledger entries, every
    # payment's entries match its status, and money is conserved.
    audit = json.loads((run.run_dir / "audit.json").read_text())
    assert audit["ok"] is True, audit
    assert audit["pending"] == 0
    assert audit["checks"]["conservation"]["detail"]["holds"] == 0, audit["checks"]
    for check in ("accounts_match_ledger", "payments_match_status", "conservation"):
        assert audit["checks"][check]["ok"], audit["checks"][check]

    # Nobody was charged for a payment they were told failed.
    rec = run.reconcile
    assert rec["payments"] == len(lines)
    assert rec["ghost_charges"] == 0 and rec["lost_successes"] == 0, rec
    assert rec["unsettled"] == 0
    return hit


def test_shoppers_and_pos_terminals_reverse_what_is_still_unknown_at_their_deadline(
    tmp_path: Path,
) -> None:
    shoppers, pos = run_all(
        tmp_path,
        _scenario("resolve-shoppers", {"shopper": 100}, retry="backoff", resolve=True),
        # A terminal resolves whatever the app's policy says (the deadline is the scenario's).
        _scenario("resolve-pos", {"pos": 100}, retry="none", resolve=False),
    )

    # The app replays the key: every replay is an attempt under the same key.
    for p in _reversed_by_the_client(shoppers, "shopper"):
        assert p["attempts"] > 1 + MAX_RETRIES, p

    # The terminal looks the payment up instead (a query is no payment attempt), and it does
    # so whatever the app's policy: this app neither retries nor resolves.
    for p in _reversed_by_the_client(pos, "pos"):
        assert p["attempts"] == 1, p
        assert p["codes"][1:-1] and set(p["codes"][1:-1]) == {"PAYMENT_PENDING"}, p


def test_a_terminal_reverses_what_it_could_not_settle_after_the_person_has_gone(
    tmp_path: Path,
) -> None:
    """Every answer up to the deadline is lost (the gateway captures each payment and drops
    the connection, replays too): the terminal never learns the payment's id and the person
    is told it is unknown, while the ledger holds it captured. The pending reversal replays
    the key once the fault is over, learns the id and reverses it: nobody is left charged."""
    scenario = _scenario("pending-pos", {"pos": 100}, retry="none", resolve=False)
    scenario["duration_s"] = scenario["load"]["stages"][0]["until_s"] = 8
    scenario["faults"] = [
        {
            "kind": "lost_response",
            "target": {"route": "pay", "probability": 1},
            "start_in_s": 0,
            "duration_s": LOST_FOR_S,
        }
    ]
    (run,) = run_all(tmp_path, scenario)

    lines = run.of_type("pos")
    ledger = {row["key"]: row for row in _jsonl(run.run_dir / "ledger.jsonl")}
    lost = [p for p in lines if p["outcome"] == "unknown"]
    # Those begun before the deadline's length from the window's end: about RATE * 2.
    assert len(lost) >= RATE * (LOST_FOR_S - DEADLINE_S) * 0.6, len(lost)
    for p in lost:
        assert p["payment_id"] is None and set(p["codes"]) == {"CONNECTION_ERROR"}, p
    # The gateway had captured them (or declined a few: FAILED); the terminal reversed each
    # capture after the person had gone.
    statuses = Counter(ledger[p["key"]]["status"] for p in lost)
    assert set(statuses) <= {"REVERSED", "FAILED"}, statuses
    assert statuses["REVERSED"] >= 0.8 * len(lost), statuses
    stats = (run.run_dir / "locust_stats.csv").read_text()
    assert "/v1/payments/[id]/reverse (pending reversal)" in stats
    assert run.reconcile["ghost_charges"] == 0, run.reconcile
    assert json.loads((run.run_dir / "audit.json").read_text())["ok"] is True

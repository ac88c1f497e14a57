"""End to end: two runs of one scenario and seed start the same payments — the same keys,
people, shops, amounts, links and intended start times — and draw the same faults; they
differ only by timing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.paystorm.runs import Finished, run_all

SAME = ("key", "type", "network", "user_id", "merchant_id", "amount", "city", "start_s")


def _scenario(name: str, seed: int) -> dict[str, Any]:
    return {
        "name": name,
        "duration_s": 4,
        "population": {"seed": seed, "accounts": 500, "merchants": 30},
        "load": {"model": "arrival-rate", "stages": [{"until_s": 4, "rate": 50}]},
        "mix": {"shopper": 80, "pos": 20},
        "client": {"timeout_s": 3, "retry": "none", "weak_network_share": 0.2},
        # A third of the payments refused, drawn from the fault's seed and each payment's key.
        "faults": [
            {
                "kind": "error",
                "params": {"code": "INTERNAL_ERROR", "rate": 0.33},
                "target": {"route": "pay"},
                "start_in_s": 0,
                "seed": 5,
            }
        ],
    }


def _payments(run: Finished) -> dict[str, dict[str, Any]]:
    return {p["key"]: p for p in run.payments if p["type"] != "refund"}


def test_two_runs_of_a_seed_start_the_same_payments_and_draw_the_same_faults(
    tmp_path: Path,
) -> None:
    first, second = run_all(tmp_path, _scenario("a", 7), _scenario("b", 7))
    a, b = _payments(first), _payments(second)
    assert len(a) == 200 and a.keys() == b.keys()
    for key, payment in a.items():
        assert {f: payment[f] for f in SAME} == {f: b[key][f] for f in SAME}, key
    # Both kinds and both links are there, so each was drawn the same way.
    assert {p["type"] for p in a.values()} == {"shopper", "pos"}
    assert {p["network"] for p in a.values()} == {"normal", "weak"}
    # The same payments were refused by the seeded fault on their first attempt.
    refused = {k for k, p in a.items() if p["codes"][:1] == ["INTERNAL_ERROR"]}
    assert 30 <= len(refused) <= 110
    assert refused == {k for k, p in b.items() if p["codes"][:1] == ["INTERNAL_ERROR"]}

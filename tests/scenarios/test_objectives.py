"""Objectives per population: `slo.weak_network` in the scenario format."""

from __future__ import annotations

import pytest

from scenarios.loader import ScenarioError, load_scenario, parse_scenario, to_dict
from scenarios.model import LinkSLO

BASE = {
    "name": "t",
    "duration_s": 30,
    "load": {"model": "arrival-rate", "stages": [{"until_s": 30, "rate": 50}]},
    "client": {"weak_network_share": 0.1},
}


def test_weak_links_get_objectives_of_their_own() -> None:
    slo = {"p99_ms": 1500, "weak_network": {"success_rate": 0.95, "p99_ms": 5000}}
    s = parse_scenario({**BASE, "slo": slo}, "t.yaml")
    assert s.slo.p99_ms == 1500
    assert s.slo.weak_network == LinkSLO(success_rate=0.95, p99_ms=5000)
    # Written into the results folder as it was given, for the report to read.
    assert to_dict(s)["slo"]["weak_network"] == {
        "success_rate": 0.95,
        "p95_ms": None,
        "p99_ms": 5000,
    }


@pytest.mark.parametrize(
    ("weak", "field", "expected"),
    [
        ({"p99_ms": -1}, "slo.weak_network.p99_ms", "> 0"),
        ({"success_rate": 95}, "slo.weak_network.success_rate", "<= 1"),
        ({"ghost_charges": 0}, "slo.weak_network.ghost_charges", "known fields"),
    ],
)
def test_a_bad_population_objective_is_one_line(weak: object, field: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario({**BASE, "slo": {"weak_network": weak}}, "bad.yaml")
    message = str(info.value)
    assert message.startswith(f"bad.yaml: {field}: expected") and expected in message


def test_flash_sale_judges_weak_links_apart() -> None:
    """Its shoppers on weak links (5 %) wait seconds at any load: the p99 of the others is
    what breaks when the gateway does."""
    s = load_scenario("flash-sale")
    assert s.client.weak_network_share > 0
    assert s.slo.weak_network is not None and s.slo.weak_network.p99_ms is not None
    assert s.slo.p99_ms is not None and s.slo.weak_network.p99_ms > s.slo.p99_ms

"""`paystorm remedies`: which remedy addresses which cause, the scenario each one runs, the
table with its spread, a small outage end to end, and the bad input it refuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from paystorm.remedies import Variant, applicable, choose, document, with_remedy
from reports.remedies import BY_NAME, remedies_for
from scenarios.loader import load_scenario, parse_scenario
from tests.paystorm.runs import SMALL_POPULATION

OUTAGE = {
    "name": "outage",
    "duration_s": 5,
    "population": SMALL_POPULATION,
    "load": {"model": "arrival-rate", "stages": [{"until_s": 5, "rate": 40}]},
    "client": {"timeout_s": 3, "retry": "backoff", "max_retries": 2},
    "gateway": {"failover": False},
    "faults": [
        {
            "kind": "channel_outage",
            "params": {"channel": "bank_a", "mode": "error"},
            "start_in_s": 1,
            "duration_s": 3,
        }
    ],
    "slo": {"success_rate": 0.99},
}


def test_each_remedy_changes_one_thing_and_keeps_the_traffic() -> None:
    storm = load_scenario("timeout-storm-immediate")
    for name in ("capacity", "shedding", "backoff", "resolve"):
        changed = with_remedy(storm, BY_NAME[name])
        assert changed.population == storm.population and changed.faults == storm.faults
        assert changed.load == storm.load and changed.mix == storm.mix
        assert changed.name == f"timeout-storm-immediate+{name}"
    assert with_remedy(storm, BY_NAME["backoff"]).client.retry == "backoff"
    assert with_remedy(storm, BY_NAME["backoff"]).gateway == storm.gateway
    shed = with_remedy(storm, BY_NAME["shedding"])
    # The scenario's own overrides are kept beside the remedy's.
    assert shed.gateway == {**storm.gateway, "capacity": {"shedding": True}}
    assert shed.client == storm.client
    more = with_remedy(storm, BY_NAME["capacity"]).gateway["channels"]
    # Half again each bank's connections: the scenario's own 150 for bank_a, the profile's 8
    # for bank_b.
    assert more == {"bank_a": {"concurrency": 225}, "bank_b": {"concurrency": 12}}


def test_remedies_chosen_for_the_top_causes_and_not_already_on() -> None:
    outage = load_scenario("channel-outage-no-failover")
    causes = {"CHANNEL_UNAVAILABLE": 900, "CLIENT_TIMEOUT": 3}
    assert [r.name for r in choose(outage, causes, top=1)] == ["failover"]
    assert not applicable(BY_NAME["failover"], load_scenario("channel-outage-failover"))
    storm = load_scenario("timeout-storm-immediate")
    chosen = [r.name for r in choose(storm, {"CLIENT_TIMEOUT": 500})]
    assert chosen == ["capacity", "shedding", "backoff", "resolve"]
    # A cause the lab cannot switch a fix for is named, with its advice, and not measured.
    [(code, named)] = remedies_for({"RISK_DECLINED": 40}, top=1)
    assert code == "RISK_DECLINED" and [r.name for r in named] == ["risk"]
    assert choose(storm, {"RISK_DECLINED": 40}) == []


def _summary(rate: float, attempts: float, ghosts: int) -> dict[str, Any]:
    return {
        "success_rate": rate,
        "attempts_per_payment": attempts,
        "ghost_charges": ghosts,
        "latency_ms": {"p99": 900.0},
        "had_credit_failures": 10,
        "had_credit_failures_by_cause": {"CLIENT_TIMEOUT": 10},
    }


def test_the_table_ranks_remedies_by_points_won_back_with_their_spread() -> None:
    storm = load_scenario("timeout-storm-immediate")
    base = Variant("baseline", None, storm, [], [_summary(r, 2.5, 30) for r in (0.80, 0.82)])
    shed = BY_NAME["shedding"]
    back = BY_NAME["backoff"]
    variants = [
        base,
        Variant("shedding", shed, storm, [], [_summary(r, 2.4, 20) for r in (0.83, 0.81)]),
        Variant("backoff", back, storm, [], [_summary(r, 1.2, 25) for r in (0.90, 0.92)]),
    ]
    doc = document(storm, variants, 2)
    assert [v["label"] for v in doc["variants"]] == ["baseline", "backoff", "shedding"]
    backoff = doc["variants"][1]
    assert backoff["won_back"]["points"] == pytest.approx(10.0)
    # Two repeats each, sd 1.414 points on both sides: the difference's spread is 2 points.
    assert backoff["won_back"]["spread"] == pytest.approx(2.0)
    assert backoff["measures"]["attempts_per_payment"]["mean"] == pytest.approx(1.2)
    shedding = doc["variants"][2]
    assert shedding["won_back"]["points"] == pytest.approx(1.0)
    assert doc["causes"] == {"CLIENT_TIMEOUT": 20}


def _remedies(tmp_path: Path, target: str, *args: str, timeout: float = 60) -> tuple[int, str]:
    command = [sys.executable, "-m", "paystorm", "remedies", target]
    proc = subprocess.run(
        [*command, "--out", str(tmp_path / "out"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_failover_wins_back_an_outage_on_the_same_traffic(tmp_path: Path) -> None:
    path = tmp_path / "outage.yaml"
    path.write_text(yaml.safe_dump(OUTAGE))
    code, output = _remedies(tmp_path, str(path), "--repeats", "1", timeout=150)
    assert code == 0, output
    (folder,) = (tmp_path / "out").iterdir()
    doc = json.loads((folder / "remedies.json").read_text())
    assert next(iter(doc["causes"])) == "CHANNEL_UNAVAILABLE"
    baseline, failover = doc["variants"]
    assert failover["remedy"] == "failover"
    assert failover["won_back"]["points"] > 10, doc
    assert failover["measures"]["success_rate"]["mean"] >= 0.98
    # The same payments in both: every run's payment keys are identical.
    keys = [
        {
            json.loads(line)["key"]
            for line in (Path(run) / "payments.jsonl").read_text().splitlines()
        }
        for run in (baseline["runs"][0], failover["runs"][0])
    ]
    assert keys[0] == keys[1] and len(keys[0]) >= 150
    assert (folder / "compare" / "compare.html").is_file()
    assert "multi-channel failover" in (folder / "remedies.md").read_text()
    assert "best: multi-channel failover" in output


@pytest.mark.parametrize(
    ("target", "args", "expected"),
    [
        ("no-such-scenario", (), "no such scenario file or catalogue name"),
        ("steady", ("--repeats", "0"), "--repeats 0: expected 1 to 10"),
        ("steady", ("--remedy", "prayer"), "--remedy prayer: expected one of capacity"),
        (
            "channel-outage-failover",
            ("--remedy", "failover"),
            "--remedy failover: already on in channel-outage-failover",
        ),
    ],
)
def test_bad_input_is_one_line_and_runs_nothing(
    tmp_path: Path, target: str, args: tuple[str, ...], expected: str
) -> None:
    code, output = _remedies(tmp_path, target, *args)
    assert code == 2, output
    assert output.startswith("paystorm remedies: ") and expected in output, output
    assert output.count("\n") == 1 and not (tmp_path / "out").exists()


def test_a_scenario_file_is_checked_before_anything_runs(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**OUTAGE, "slo": {"success_rate": 99}}))
    code, output = _remedies(tmp_path, str(path))
    assert code == 2 and "slo.success_rate: expected a number <= 1.0" in output, output
    assert parse_scenario(OUTAGE, "t.yaml").name == "outage"

"""`paystorm capacity`: the search at small scale against a gateway whose capacity is known,
the step it plans, and the bad input it refuses before running anything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from paystorm.capacity import Search, plan_step
from scenarios.loader import parse_scenario
from tests.paystorm.runs import SMALL_POPULATION

# Two channels that complete 36 + 24 = 60 payments/s at the 60/40 split: past 60/s every
# payment queues behind the last, and p99 passes 400 ms within seconds.
CAPACITY_PER_S = 60
SIXTY = {
    "name": "sixty",
    "duration_s": 30,
    "population": SMALL_POPULATION,
    "load": {"model": "arrival-rate", "stages": [{"until_s": 30, "rate": 40}]},
    "client": {"timeout_s": 2, "retry": "none"},
    "gateway": {
        "channels": {
            "bank_a": {"concurrency": 3, "service_ms": 83.3},
            "bank_b": {"concurrency": 2, "service_ms": 83.3},
        }
    },
    "slo": {"success_rate": 0.99, "p99_ms": 400},
}


def _capacity(tmp_path: Path, scenario: Any, *args: str, timeout: float = 120) -> tuple[int, str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario) if isinstance(scenario, dict) else scenario)
    command = [sys.executable, "-m", "paystorm", "capacity", str(path)]
    proc = subprocess.run(
        [*command, "--out", str(tmp_path / "out"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.exclusive  # a step's p99 is what breaks it: a busy machine would break it sooner
def test_finds_the_known_capacity_within_its_budget(tmp_path: Path) -> None:
    budget = 75
    code, output = _capacity(
        tmp_path,
        SIXTY,
        *("--min", "20", "--max", "160", "--warmup-s", "2", "--step-s", "4"),
        *("--precision", "0.5", "--budget-s", str(budget), "--forecast", "200"),
    )
    assert code == 1, output  # 200/s does not fit in a 60/s gateway
    (folder,) = (tmp_path / "out").iterdir()
    doc = json.loads((folder / "capacity.json").read_text())
    held, broke = doc["bracket"]["held_per_s"], doc["bracket"]["broke_per_s"]
    assert held is not None and broke is not None and held < broke, output
    # The channels cannot complete more than 60/s: a rate well past it never holds, and
    # half of it always does.
    assert held <= CAPACITY_PER_S * 1.15 and broke >= CAPACITY_PER_S / 2, doc["steps"]
    assert doc["max_rate"] == held and doc["elapsed_s"] <= budget
    assert doc["forecast"]["fits"] is False and doc["forecast"]["headroom_pct"] < 0
    assert set(doc["broke_first"]) <= {"success_rate", "p99_ms", "dropped_rate"}
    # What broke first: the channels were the limit.
    assert any("at its limit" in f for f in doc["what_broke"]["findings"]), doc["what_broke"]
    # Every step is a results folder, judged after its warm-up on the step's whole window.
    for step in doc["steps"]:
        assert (folder / step["folder"] / "outcomes.csv").is_file()
        assert step["seconds"] >= 3
    rates = [s["rate_per_s"] for s in doc["steps"]]
    assert len(set(rates)) == len(rates)  # no rate tried twice
    assert (folder / "capacity.md").read_text().startswith("# Capacity: sixty")
    html = (folder / "report.html").read_text()
    assert "data:image/png;base64," in html and "What broke first" in html
    assert "does not fit" in output and "report:" in output


def test_a_step_replays_the_fault_timeline_after_its_warm_up() -> None:
    scenario = parse_scenario(
        {
            **SIXTY,
            "faults": [
                {"kind": "latency", "params": {"ms": 5}, "start_in_s": 12, "duration_s": 8},
                {"kind": "latency", "params": {"ms": 9}, "start_in_s": 15, "duration_s": 10},
            ],
        },
        "t.yaml",
    )
    plan = plan_step(scenario, 75, Search(warmup_s=5, step_s=4))
    step = plan.scenario
    assert [f.start_in_s for f in step.faults] == [5, 8]  # the first starts with the window
    # The window holds the whole timeline (13 s), longer than the 4 s asked.
    assert (plan.window_start_s, plan.window_end_s) == (5, 18)
    assert step.duration_s == 18 and step.load.stages[0].rate == 75
    assert step.client == scenario.client and step.gateway == scenario.gateway


@pytest.mark.parametrize(
    ("scenario", "args", "expected"),
    [
        ("no-such-scenario", (), "no such scenario file or catalogue name"),
        (SIXTY, ("--min", "300", "--max", "100"), "--min 300: expected at most --max (100)"),
        (SIXTY, ("--budget-s", "10"), "--budget-s 10: expected at least one step's time"),
        (SIXTY, ("--precision", "2"), "--precision 2: expected a share between 0 and 1"),
        ({**SIXTY, "slo": {"ghost_charges": 0}}, (), "slo: expected an objective a step can"),
        ("name: [unclosed", (), "expected valid YAML"),
    ],
)
def test_bad_input_is_one_line_and_runs_nothing(
    tmp_path: Path, scenario: Any, args: tuple[str, ...], expected: str
) -> None:
    if scenario == "no-such-scenario":
        proc = subprocess.run(
            [sys.executable, "-m", "paystorm", "capacity", scenario, "--out", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        code, output = proc.returncode, proc.stdout + proc.stderr
    else:
        code, output = _capacity(tmp_path, scenario, *args, timeout=60)
    assert code == 2, output
    assert output.startswith("paystorm capacity: ") and expected in output, output
    assert output.count("\n") == 1 and "Traceback" not in output
    assert not (tmp_path / "out").exists()

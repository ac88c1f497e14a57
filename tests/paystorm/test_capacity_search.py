"""The capacity search's ladder, bisection and budget, against steps that hold below a known
breaking rate (results folders written here instead of runs: the search's arithmetic only)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from paystorm.capacity import Outcome, Runner, Search, search_capacity
from scenarios.loader import parse_scenario
from tests.reports.conftest import row, scenario, write_run

BASE = {
    "name": "fake",
    "duration_s": 20,
    "load": {"model": "arrival-rate", "stages": [{"until_s": 20, "rate": 100}]},
    "slo": {"success_rate": 0.99},
}


class Clock:
    """The search's clock: each fake step takes STEP_WALL_S."""

    now = 0.0

    def __call__(self) -> float:
        return self.now


STEP_WALL_S = 25.0


def fake_runner(breaks_above: float, clock: Clock) -> tuple[list[float], Runner]:
    """A step runner whose steps hold up to `breaks_above` payments/s and lose a fifth of
    the payments past it."""
    rates: list[float] = []

    def run(scenario_file: Path, out: Path) -> tuple[Path, str]:
        step = yaml.safe_load(scenario_file.read_text())
        rate = float(step["load"]["stages"][0]["rate"])
        rates.append(rate)
        success = 1.0 if rate <= breaks_above else 0.8
        rows = [row(t, round(rate), success=success) for t in range(int(step["duration_s"]))]
        clock.now += STEP_WALL_S
        folder = out / f"{step['name']}-{len(rates)}"
        write_run(folder, rows, scenario_doc=scenario({"success_rate": 0.99}, name=step["name"]))
        return folder, "completed"

    return rates, run


def _search(tmp_path: Path, breaks_above: float, **search: float) -> tuple[Outcome, list[float]]:
    clock = Clock()
    rates, runner = fake_runner(breaks_above, clock)
    result = search_capacity(
        parse_scenario(BASE, "fake.yaml"),
        Search(**search),
        tmp_path,
        runner=runner,
        progress=lambda _: None,
        clock=clock,
    )
    return result, rates


def test_ladder_up_then_bisection_brackets_within_the_precision(tmp_path: Path) -> None:
    result, rates = _search(tmp_path, 437)
    assert rates[:3] == [100, 200, 400] and rates[3] == 800  # the ladder, from the peak
    assert result.stop == "bracketed"
    assert result.held is not None and result.broke is not None
    held, broke = result.held.rate_per_s, result.broke.rate_per_s
    assert held <= 437 < broke and broke <= held * 1.05
    assert all(r.held == (r.rate_per_s <= 437) for r in (result.held, result.broke))
    assert len(rates) == len(set(rates)) <= 10


def test_ladder_down_when_the_start_breaks(tmp_path: Path) -> None:
    result, rates = _search(tmp_path, 30, precision=0.1)
    assert rates[:3] == [100, 50, 25]
    assert result.held is not None and result.held.rate_per_s <= 30
    assert result.broke is not None and result.broke.rate_per_s <= result.held.rate_per_s * 1.1


@pytest.mark.parametrize(("breaks_above", "stop"), [(10_000, "held_to_max"), (1, "broke_at_min")])
def test_the_bounds_end_the_ladder(tmp_path: Path, breaks_above: float, stop: str) -> None:
    result, rates = _search(tmp_path, breaks_above, min_rate=20, max_rate=500)
    assert result.stop == stop
    assert min(rates) >= 20 and max(rates) <= 500
    assert rates[-1] == (500 if stop == "held_to_max" else 20)


def test_the_budget_stops_the_search_before_a_step_that_would_not_fit(tmp_path: Path) -> None:
    # Steps of 25 s: three fit in 80 s (the first estimated at 15 s of load and 15 s more),
    # a fourth would end past it.
    result, rates = _search(tmp_path, 437, budget_s=80)
    assert len(rates) == 3 and result.stop == "budget"
    assert result.stop_detail is not None and "80 s budget" in result.stop_detail
    assert result.held is not None and result.held.rate_per_s == 400

"""The capacity search: the highest offered rate at which a scenario's objectives hold.

Each step is the scenario itself — its people, client policy, gateway settings and fault
timeline — held at one rate: a warm-up (excluded from the verdict: the pool connects, the
gateway's queues fill to their steady level) then a measured window, run by `paystorm run`'s
runner with a fresh gateway, so no step inherits another's backlog. A fault timeline is
replayed in every step, shifted to begin as the window does, and the window is stretched to
cover it: "the capacity during a bank_a outage" is then a question a search answers.

A coarse ladder (doubling from the start rate up while steps hold, halving down while they
break) finds a bracket — the highest rate that held, the lowest that broke — then geometric
bisection narrows it until the broken rate is within `precision` of the held one, the rates
run out, or the next step would not fit in the time budget.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from msgspec.structs import replace

from contract.profile import apply_overrides
from paystorm.runner import RunOptions, execute
from reports.capacity_steps import GatewaySetup, StepVerdict, judge_step, what_broke
from reports.model import RunError
from reports.run import load_run
from scenarios.loader import dump, fault_dict
from scenarios.model import Guard, Scenario, Stage

STEP_OVERHEAD_S = 15.0
"""A step's first cost estimate beyond its load: starting the gateway and Locust, the users'
last payments, the audit. Measured steps replace it."""
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Search:
    """What the search is asked: the bounds, the budget and the shape of a step."""

    min_rate: float = 10.0
    max_rate: float = 2000.0
    budget_s: float = 300.0
    warmup_s: float = 5.0
    step_s: float = 10.0
    precision: float = 0.05
    start_rate: float | None = None
    """The ladder's first rate; None: the scenario's own peak, within the bounds."""


@dataclass(frozen=True)
class StepPlan:
    """A step's scenario and the window that judges it, in seconds of the step."""

    scenario: Scenario
    window_start_s: float
    window_end_s: float


def plan_step(scenario: Scenario, rate: float, search: Search) -> StepPlan:
    """The scenario held at `rate`: one stage, its faults shifted to start with the window,
    the window long enough to hold the whole fault timeline; no guard, at speed 1."""
    measured = search.step_s
    faults = scenario.faults
    if faults:
        first = min(f.start_in_s for f in faults)
        span = max(
            (f.start_in_s - first + f.duration_s) if f.duration_s is not None else 0.0
            for f in faults
        )
        measured = max(measured, span)
        shift = search.warmup_s - first
        faults = tuple(dataclasses.replace(f, start_in_s=f.start_in_s + shift) for f in faults)
    duration = search.warmup_s + measured
    step = replace(
        scenario,
        name=f"{scenario.name}-step-{rate:g}",
        duration_s=duration,
        speed=1.0,
        load=replace(
            scenario.load, model="arrival-rate", stages=(Stage(until_s=duration, rate=rate),)
        ),
        faults=faults,
        guard=Guard(),
    )
    return StepPlan(step, search.warmup_s, duration)


def peak_rate(scenario: Scenario) -> float:
    """The highest rate the scenario's stages reach (0 for the closed model)."""
    if scenario.load.model != "arrival-rate":
        return 0.0
    return max(float(s.rate or 0) for s in scenario.load.stages)


def step_seconds(scenario: Scenario, search: Search) -> float:
    """The load seconds of one step (every step is as long)."""
    plan = plan_step(scenario, search.min_rate, search)
    return plan.window_end_s


@dataclass
class Outcome:
    """Every step run so far and what they bracket."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    held: StepVerdict | None = None  # the highest rate that held
    broke: StepVerdict | None = None  # the lowest rate that broke
    broke_dir: Path | None = None
    stop: str = "bracketed"
    """bracketed, held_to_max, broke_at_min, budget, interrupted or error."""
    stop_detail: str | None = None


Runner = Callable[[Path, Path], tuple[Path, str]]
"""Runs a step's scenario file into a folder: (run folder, stop reason)."""


def run_step_file(scenario_file: Path, out: Path) -> tuple[Path, str]:
    outcome = execute(RunOptions(scenario=str(scenario_file), out=out, audit=False))
    return outcome.run_dir, outcome.stop_reason


def search_capacity(
    scenario: Scenario,
    search: Search,
    folder: Path,
    *,
    runner: Runner = run_step_file,
    progress: Callable[[str], None] = print,
    on_step: Callable[[Outcome], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Run the ladder, then the bisection, into `folder`/steps/."""
    steps_dir = folder / "steps"
    steps_dir.mkdir(parents=True, exist_ok=True)
    started = clock()
    load_s = step_seconds(scenario, search)
    result = Outcome()
    start = search.start_rate or peak_rate(scenario)
    rate = float(round(min(max(start, search.min_rate), search.max_rate)))
    phase = "ladder"
    while True:
        spent = clock() - started
        walls = [s["wall_s"] for s in result.steps]
        estimate = max(walls) if walls else load_s + STEP_OVERHEAD_S
        if spent + estimate > search.budget_s:
            result.stop = "budget"
            result.stop_detail = (
                f"the next step (about {estimate:.0f} s) would end past the {search.budget_s:g} s "
                f"budget ({spent:.0f} s spent)"
            )
            break
        plan = plan_step(scenario, rate, search)
        n = len(result.steps) + 1
        scenario_file = steps_dir / f"{n:02d}-{rate:g}.yaml"
        scenario_file.write_text(dump(plan.scenario), encoding="utf-8")
        began = clock()
        run_dir, stop = runner(scenario_file, steps_dir)
        wall = clock() - began
        try:
            run = load_run(run_dir)
        except RunError as exc:
            result.stop, result.stop_detail = "error", str(exc)
            break
        verdict = judge_step(run, rate, plan.window_start_s, plan.window_end_s)
        result.steps.append(
            {
                **verdict.as_dict(),
                "phase": phase,
                "folder": str(run_dir.relative_to(folder)),
                "wall_s": round(wall, 1),
                "stop_reason": stop,
            }
        )
        word = "held" if verdict.held else f"broke ({', '.join(verdict.broken)})"
        progress(f"step {n}: {rate:g}/s {word} [{wall:.0f} s]")
        if stop == "interrupted":
            result.stop, result.stop_detail = "interrupted", "stopped with Ctrl-C"
            break
        if verdict.held:
            if result.held is None or rate > result.held.rate_per_s:
                result.held = verdict
        elif result.broke is None or rate < result.broke.rate_per_s:
            result.broke, result.broke_dir = verdict, run_dir
        on_step(result)
        following = _next_rate(result, rate, search, phase)
        if following is None:
            result.stop = _why_done(result, search)
            break
        phase, rate = following
    return result


def _next_rate(
    result: Outcome, rate: float, search: Search, phase: str
) -> tuple[str, float] | None:
    held = result.held.rate_per_s if result.held else None
    broke = result.broke.rate_per_s if result.broke else None
    if held is None:
        lower = max(float(round(rate / 2)), search.min_rate)
        return None if rate <= search.min_rate else (phase, lower)
    if broke is None:
        higher = min(float(round(rate * 2)), search.max_rate)
        return None if rate >= search.max_rate else (phase, higher)
    if broke <= held * (1 + search.precision):
        return None
    middle = float(round(math.sqrt(held * broke)))
    if not held < middle < broke:
        return None  # whole payments/s apart: as narrow as the rates go
    return "bisect", middle


def _why_done(result: Outcome, search: Search) -> str:
    if result.held is None:
        return "broke_at_min"
    if result.broke is None:
        return "held_to_max"
    return "bracketed"


def gateway_setup(scenario: Scenario) -> GatewaySetup:
    profile = apply_overrides(scenario.gateway)
    return GatewaySetup(
        channel_slots={c.name: c.concurrency for c in profile.channels},
        client_timeout_s=scenario.client.timeout_s,
    )


def explain(result: Outcome, scenario: Scenario, search: Search) -> dict[str, Any] | None:
    """What broke first at the bracket: the lowest broken step's causes and internals."""
    if result.broke_dir is None or result.broke is None:
        return None
    plan = plan_step(scenario, result.broke.rate_per_s, search)
    run = load_run(result.broke_dir)
    return what_broke(run, plan.window_start_s, plan.window_end_s, gateway_setup(scenario))


def document(
    scenario: Scenario,
    search: Search,
    result: Outcome,
    elapsed_s: float,
    forecast: float | None,
) -> dict[str, Any]:
    """The content of capacity.json."""
    held = result.held.rate_per_s if result.held else None
    broke = result.broke.rate_per_s if result.broke else None
    fits = None if forecast is None or held is None else held >= forecast
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "objectives": {k: v for k, v in objectives_of(scenario).items() if v is not None},
        "gateway": scenario.gateway,
        "faults": [fault_dict(f) for f in scenario.faults],
        "max_rate": held,
        "bracket": {
            "held_per_s": held,
            "broke_per_s": broke,
            "width_pct": None if held is None or broke is None else 100 * (broke - held) / held,
        },
        "broke_first": list(result.broke.broken) if result.broke else [],
        "what_broke": explain(result, scenario, search),
        "status": result.stop,
        "status_detail": result.stop_detail,
        "forecast": None
        if forecast is None
        else {
            "per_s": forecast,
            "headroom_pct": None if held is None else 100 * (held - forecast) / forecast,
            "fits": bool(fits),
        },
        "search": {
            "min_per_s": search.min_rate,
            "max_per_s": search.max_rate,
            "budget_s": search.budget_s,
            "warmup_s": search.warmup_s,
            "step_s": search.step_s,
            "precision": search.precision,
        },
        "elapsed_s": round(elapsed_s, 1),
        "steps": result.steps,
    }


def objectives_of(scenario: Scenario) -> dict[str, Any]:
    """The scenario's objectives by the names the report gives them (`weak_network.p99_ms`)."""
    data: dict[str, Any] = msgspec.to_builtins(scenario.slo)
    weak = data.pop("weak_network", None) or {}
    data.update({f"weak_network.{k}": v for k, v in weak.items()})
    return data

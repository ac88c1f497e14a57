"""The remedy advisor's runs: the scenario as it is, then with one remedy switched on at a
time, each repeated, on the same traffic.

Every variant keeps the scenario's population seed, so its runs start the same payments
(keys, people, amounts, intended starts: `scenarios.people`) and draw the same seeded faults
on the same timeline; only the remedy and timing differ. Which remedies are measured: those
the catalogue (`reports.remedies`) names for the baseline's top had-credit causes, that the
lab can switch, and that are not already on."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msgspec.structs import replace

from contract.profile import apply_overrides
from paystorm.runner import RunOptions, execute
from reports.remedies import BY_NAME, Remedy, remedies_for, spreads, won_back
from reports.run import load_run
from reports.summary import summarize
from scenarios.loader import dump
from scenarios.model import Scenario

CAPACITY_FACTOR = 1.5  # "more capacity": half again as many slots on every bank channel
BACKOFF_RETRIES = 2  # "backoff": at least this many retries


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        old = merged.get(key)
        merged[key] = (
            _merged(old, value)
            if isinstance(old, Mapping) and isinstance(value, Mapping)
            else value
        )
    return merged


def applicable(remedy: Remedy, scenario: Scenario) -> bool:
    """Whether switching the remedy on changes anything in this scenario."""
    profile = apply_overrides(scenario.gateway)
    client = scenario.client
    return {
        "capacity": True,
        "shedding": not profile.capacity.shedding,
        "failover": not profile.failover,
        "backoff": client.retry != "backoff" or client.max_retries < 1,
        "resolve": not client.resolve_uncertain,
    }.get(remedy.name, False)


def with_remedy(scenario: Scenario, remedy: Remedy) -> Scenario:
    """The scenario with one remedy switched on; everything else, the seed included, kept."""
    gateway: dict[str, Any] = {}
    client = scenario.client
    if remedy.name == "capacity":
        profile = apply_overrides(scenario.gateway)
        gateway = {
            "channels": {
                c.name: {"concurrency": math.ceil(c.concurrency * CAPACITY_FACTOR)}
                for c in profile.channels
                if c.weight > 0
            }
        }
    elif remedy.name == "shedding":
        gateway = {"capacity": {"shedding": True}}
    elif remedy.name == "failover":
        gateway = {"failover": True}
    elif remedy.name == "backoff":
        client = replace(
            client, retry="backoff", max_retries=max(client.max_retries, BACKOFF_RETRIES)
        )
    elif remedy.name == "resolve":
        client = replace(client, resolve_uncertain=True)
    else:
        raise ValueError(f"{remedy.name}: not a remedy the lab can switch on")
    return replace(
        scenario,
        name=f"{scenario.name}+{remedy.name}",
        gateway=_merged(scenario.gateway, gateway),
        client=client,
    )


def choose(scenario: Scenario, causes: Mapping[str, int], top: int = 3) -> list[Remedy]:
    """The measurable, applicable remedies for the top causes, in catalogue order."""
    named = {r.name for _, remedies in remedies_for(causes, top) for r in remedies}
    return [
        r for r in BY_NAME.values() if r.name in named and r.measurable and applicable(r, scenario)
    ]


@dataclass
class Variant:
    label: str
    remedy: Remedy | None
    scenario: Scenario
    runs: list[Path]
    summaries: list[dict[str, Any]]


Progress = Callable[[str], None]


def run_variant(
    variant: Variant, folder: Path, repeats: int, speed: float | None, progress: Progress
) -> None:
    """Run the variant `repeats` times, one after the other, into `folder`/runs/."""
    path = folder / "scenarios" / f"{variant.label}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump(variant.scenario), encoding="utf-8")
    for n in range(1, repeats + 1):
        outcome = execute(
            RunOptions(scenario=str(path), out=folder / "runs" / variant.label, speed=speed)
        )
        summary = summarize(load_run(outcome.run_dir))
        variant.runs.append(outcome.run_dir)
        variant.summaries.append(summary)
        rate = summary.get("success_rate")
        shown = "n/a" if rate is None else f"{rate:.2%}"
        progress(f"{variant.label} #{n}: success rate {shown}, stop: {outcome.stop_reason}")
        if outcome.stop_reason == "interrupted":
            raise KeyboardInterrupt


def causes_of(summaries: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Had-credit failures by final code, over every repeat."""
    total: Counter[str] = Counter()
    for s in summaries:
        total.update(s.get("had_credit_failures_by_cause") or {})
    return dict(total.most_common())


def _points_won(row: Mapping[str, Any]) -> float:
    points = (row.get("won_back") or {}).get("points")
    return -math.inf if points is None else float(points)


def document(scenario: Scenario, variants: Sequence[Variant], repeats: int) -> dict[str, Any]:
    """The content of remedies.json."""
    baseline = variants[0]
    base = spreads(baseline.summaries)
    causes = causes_of(baseline.summaries)
    rows: list[dict[str, Any]] = []
    for v in variants:
        measures = spreads(v.summaries)
        rows.append(
            {
                "label": v.label,
                "remedy": None if v.remedy is None else v.remedy.name,
                "title": "as it is" if v.remedy is None else v.remedy.title,
                "how": None if v.remedy is None else v.remedy.how,
                "runs": [str(p) for p in v.runs],
                "measures": {
                    name: {"mean": s.mean, "sd": s.sd, "values": list(s.values)}
                    for name, s in measures.items()
                },
                "won_back": None
                if v.remedy is None
                else won_back(base["success_rate"], measures["success_rate"]),
            }
        )
    remedies = sorted(rows[1:], key=_points_won, reverse=True)
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "seed": scenario.population.seed,
        "repeats": repeats,
        "causes": causes,
        "advice": [
            {
                "code": code,
                "remedies": [
                    {"name": r.name, "title": r.title, "measurable": r.measurable, "how": r.how}
                    for r in remedies_of
                ],
            }
            for code, remedies_of in remedies_for(causes)
        ],
        "variants": [rows[0], *remedies],
    }

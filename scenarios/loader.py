"""Reading a scenario file: every mistake is one line naming the file, the field and what was
expected, raised before any traffic is sent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NoReturn

import msgspec
import yaml

from contract.problems import check
from contract.profile import CHANNEL_NAMES, ProfileError, apply_overrides
from contract.target import TargetError, check_target
from contract.validate import InputError
from faults import FaultSpec, FaultSpecError, FaultTarget, parse_fault
from scenarios.model import Mix, Scenario

CATALOGUE_DIR = Path(__file__).resolve().parent
# Sections that may be written out empty (`faults:` with nothing under it).
NULLABLE = ("description", "faults", "gateway")


class ScenarioError(ValueError):
    """One line: `file: field: expected …, got …`."""


def _fail(
    source: str, field: str, expected: str, got: Any = None, *, show_got: bool = True
) -> NoReturn:
    tail = f", got {_show(got)}" if show_got else ""
    raise ScenarioError(f"{source}: {field}: expected {expected}{tail}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def resolve_path(name_or_path: str) -> Path:
    """A catalogue name (`flash-sale`) or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    return CATALOGUE_DIR / f"{name_or_path}.yaml"


def catalogue() -> list[str]:
    return sorted(p.stem for p in CATALOGUE_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str) -> Scenario:
    path = resolve_path(name_or_path)
    if not path.is_file():
        known = ", ".join(catalogue())
        raise ScenarioError(
            f"{name_or_path}: no such scenario file or catalogue name (catalogue: {known})"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "file"
        raise ScenarioError(f"{path}: {where}: expected valid YAML ({_first_line(exc)})") from None
    return parse_scenario(data, str(path))


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def parse_scenario(data: Any, source: str) -> Scenario:
    """A scenario from its parsed YAML: the typed model (scenarios.model) checks every field
    and its limits, the fault kinds check their own params, the gateway profile its
    overrides; what a field alone cannot say (stages in order and covering the run, the
    level a load model needs, a mix that makes payments) is checked here."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: expected a mapping of scenario fields, got {_show(data)}")
    raw = {k: v for k, v in data.items() if not (k in NULLABLE and v is None)}
    faults_raw = raw.pop("faults", [])
    try:
        scenario = check(raw, Scenario)
    except InputError as exc:
        raise ScenarioError(f"{source}: {exc}") from None
    if not scenario.name.strip():
        _fail(source, "name", "a non-empty string", scenario.name)
    _check_load(source, scenario)
    _check_mix(source, scenario.mix, raw.get("mix"))
    _check_target(source, scenario)
    try:
        apply_overrides(scenario.gateway)
    except ProfileError as exc:
        raise ScenarioError(f"{source}: gateway.{exc}") from None
    if not isinstance(faults_raw, list):
        _fail(source, "faults", "a list", faults_raw)
    faults = tuple(
        _fault(source, item, i, scenario.duration_s) for i, item in enumerate(faults_raw)
    )
    return msgspec.structs.replace(scenario, faults=faults)


ADAPTER = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$", re.ASCII)


def _check_target(source: str, scenario: Scenario) -> None:
    """The target's URL in the form the runner takes (the loopback rule is the run's, with
    --allow-remote), and a client adapter named as `package.module:Name`."""
    if scenario.target.url is not None:
        try:
            check_target(scenario.target.url, allow_remote=True, option="target.url")
        except TargetError as exc:
            expected = str(exc).partition(": expected ")[2] or "http://HOST:PORT"
            _fail(source, "target.url", expected, scenario.target.url)
    adapter = scenario.client.adapter
    if adapter is not None and not ADAPTER.match(adapter):
        _fail(source, "client.adapter", "package.module:Name", adapter)


def _check_load(source: str, scenario: Scenario) -> None:
    load = scenario.load
    if not load.stages:
        _fail(source, "load.stages", "at least one stage", [])
    level, other = ("rate", "users") if load.model == "arrival-rate" else ("users", "rate")
    meaning = "payments started per second" if level == "rate" else "concurrent users"
    previous = 0.0
    for i, stage in enumerate(load.stages):
        where = f"load.stages[{i}]"
        if getattr(stage, other) is not None:  # the wrong level is the mistake, not a missing one
            _fail(
                source,
                f"{where}.{other}",
                f"'{level}' ({meaning}) in a stage of load.model {load.model}, not '{other}'",
                show_got=False,
            )
        if getattr(stage, level) is None:
            _fail(source, f"{where}.{level}", f"{meaning} (required)", show_got=False)
        if stage.until_s <= previous:
            _fail(
                source,
                f"{where}.until_s",
                f"a time after the previous stage's {previous:g}",
                stage.until_s,
            )
        previous = stage.until_s
    if previous < scenario.duration_s:
        _fail(
            source,
            "load.stages",
            f"stages covering duration_s ({scenario.duration_s:g} s); the last ends at "
            f"{previous:g}",
            show_got=False,
        )
    low, high = load.think_time_s
    if low > high:
        _fail(source, "load.think_time_s", "[min, max] seconds, min <= max", [low, high])


def _check_mix(source: str, mix: Mix, given: Any) -> None:
    if not any(mix.weights().values()):
        _fail(source, "mix", "at least one user type with a weight above 0", given)
    if not (mix.shopper or mix.pos):
        # A refunder refunds part of a payment made earlier in the run.
        _fail(source, "mix", "a weight above 0 for shopper or pos (refunds need payments)", given)


def _fault(source: str, value: Any, i: int, duration: float) -> FaultSpec[Any]:
    """One fault of the timeline, checked by its kind's own module."""
    where = f"faults[{i}]"
    try:
        spec = parse_fault(value, CHANNEL_NAMES)
    except FaultSpecError as exc:
        raise ScenarioError(f"{source}: {where}.{exc.field}: {exc.reason}") from None
    if spec.start_in_s >= duration:
        _fail(
            source,
            f"{where}.start_in_s",
            f"a time within duration_s ({duration:g})",
            spec.start_in_s,
        )
    return spec


def to_dict(scenario: Scenario) -> dict[str, Any]:
    """The resolved scenario, every default filled in, as it is written into a results folder."""
    data: dict[str, Any] = msgspec.to_builtins(msgspec.structs.replace(scenario, faults=()))
    data["load"]["stages"] = [
        {k: v for k, v in stage.items() if v is not None} for stage in data["load"]["stages"]
    ]
    data["faults"] = [fault_dict(f) for f in scenario.faults]
    return data


def fault_dict(fault: FaultSpec[Any]) -> dict[str, Any]:
    """A fault of the timeline in its wire form (the chaos API's, the scenario file's)."""
    target = msgspec.to_builtins(fault.target)
    default = msgspec.to_builtins(FaultTarget())
    return {
        "kind": fault.kind,
        "params": dict(fault.raw_params),
        "target": {k: v for k, v in target.items() if v != default[k]},
        "start_in_s": fault.start_in_s,
        "duration_s": fault.duration_s,
        "seed": fault.seed,
    }


def dump(scenario: Scenario) -> str:
    return yaml.safe_dump(to_dict(scenario), sort_keys=False, allow_unicode=True)

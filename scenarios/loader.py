"""Reading a scenario file: every mistake is one line naming the file, the field and what was
expected, raised before any traffic is sent."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

import yaml

from contract.profile import CHANNEL_NAMES, ProfileError, apply_overrides
from faults import FaultSpecError, parse_fault
from scenarios.model import (
    SLO,
    USER_TYPES,
    ClientPolicy,
    FaultSpec,
    Guard,
    Load,
    Population,
    Scenario,
    Stage,
)

CATALOGUE_DIR = Path(__file__).resolve().parent
# Kinds the gateway's fault engine knows; the engine itself validates their params.
CLIENT_FIELDS = (
    "timeout_s",
    "retry",
    "max_retries",
    "resolve_uncertain",
    "resolve_deadline_s",
    "weak_network_share",
)
LOAD_MODELS = ("users", "arrival-rate")


class ScenarioError(ValueError):
    """One line: `file: field: expected …, got …`."""


class _Fields:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(
        self, field: str, expected: str, got: Any = None, *, show_got: bool = True
    ) -> NoReturn:
        tail = f", got {_show(got)}" if show_got else ""
        raise ScenarioError(f"{self.source}: {field}: expected {expected}{tail}")

    def mapping(
        self, value: Any, field: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(field, "a mapping", value)
        for key in value:
            if key not in allowed:
                where = f"{field}.{key}" if field else str(key)
                self.fail(where, f"one of the known fields ({', '.join(allowed)})", show_got=False)
        for key in required:
            if key not in value:
                self.fail(f"{field}.{key}" if field else key, "a value (required)", show_got=False)
        return value

    def number(
        self,
        value: Any,
        field: str,
        *,
        low: float | None = None,
        high: float | None = None,
        integer: bool = False,
        low_open: bool = False,
    ) -> float:
        kind = "an integer" if integer else "a number"
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (integer and not isinstance(value, int))
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            self.fail(field, kind, value)
        if low is not None and (value <= low if low_open else value < low):
            self.fail(field, f"{kind} {'>' if low_open else '>='} {low:g}", value)
        if high is not None and value > high:
            self.fail(field, f"{kind} <= {high:g}", value)
        return float(value)

    def string(self, value: Any, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(field, "a non-empty string", value)
        return value

    def boolean(self, value: Any, field: str) -> bool:
        if not isinstance(value, bool):
            self.fail(field, "true or false", value)
        return value

    def choice(self, value: Any, field: str, options: tuple[str, ...]) -> str:
        if value not in options:
            self.fail(field, f"one of {', '.join(options)}", value)
        return str(value)


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
    f = _Fields(source)
    top = f.mapping(
        data,
        "",
        (
            "name",
            "description",
            "duration_s",
            "speed",
            "load",
            "mix",
            "client",
            "gateway",
            "population",
            "faults",
            "slo",
            "guard",
        ),
        required=("name", "duration_s", "load"),
    )
    duration = f.number(top["duration_s"], "duration_s", low=0, low_open=True)
    load = _load(f, top["load"], duration)
    scenario = Scenario(
        name=f.string(top["name"], "name"),
        description=str(top.get("description", "") or ""),
        duration_s=duration,
        speed=f.number(top.get("speed", 1.0), "speed", low=0, low_open=True),
        load=load,
        mix=_mix(f, top.get("mix", {"shopper": 100})),
        client=_client(f, top.get("client", {})),
        gateway=_gateway(f, top.get("gateway", {})),
        population=_population(f, top.get("population", {})),
        faults=tuple(
            _fault(f, item, i, duration)
            for i, item in enumerate(_list(f, top.get("faults", []), "faults"))
        ),
        slo=_slo(f, top.get("slo", {})),
        guard=_guard(f, top.get("guard", {})),
    )
    return scenario


def _list(f: _Fields, value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        f.fail(field, "a list", value)
    return value


def _load(f: _Fields, value: Any, duration: float) -> Load:
    m = f.mapping(
        value,
        "load",
        ("model", "stages", "max_users", "spawn_rate", "think_time_s"),
        required=("model", "stages"),
    )
    model = f.choice(m["model"], "load.model", LOAD_MODELS)
    level = "rate" if model == "arrival-rate" else "users"
    stages_raw = _list(f, m["stages"], "load.stages")
    if not stages_raw:
        f.fail("load.stages", "at least one stage", stages_raw)
    stages: list[Stage] = []
    previous = 0.0
    other = "users" if level == "rate" else "rate"
    meaning = "payments started per second" if level == "rate" else "concurrent users"
    for i, raw in enumerate(stages_raw):
        where = f"load.stages[{i}]"
        s = f.mapping(raw, where, ("until_s", "rate", "users", "ramp"))
        if other in s:  # named before a missing level: the wrong level is the mistake
            f.fail(
                f"{where}.{other}",
                f"'{level}' ({meaning}) in a stage of load.model {model}, not '{other}'",
                show_got=False,
            )
        f.mapping(s, where, ("until_s", "rate", "users", "ramp"), required=("until_s", level))
        until = f.number(s["until_s"], f"{where}.until_s", low=0, low_open=True)
        if until <= previous:
            f.fail(f"{where}.until_s", f"a time after the previous stage's {previous:g}", until)
        previous = until
        amount = f.number(s[level], f"{where}.{level}", low=0, integer=(level == "users"))
        ramp = f.choice(s.get("ramp", "step"), f"{where}.ramp", ("step", "linear"))
        stages.append(
            Stage(
                until_s=until,
                rate=amount if level == "rate" else None,
                users=int(amount) if level == "users" else None,
                ramp=ramp,  # type: ignore[arg-type]
            )
        )
    if previous < duration:
        f.fail(
            "load.stages",
            f"stages covering duration_s ({duration:g} s); the last ends at {previous:g}",
            show_got=False,
        )
    think = m.get("think_time_s", [0.5, 2.0])
    if (
        not isinstance(think, list)
        or len(think) != 2
        or any(isinstance(x, bool) or not isinstance(x, int | float) or x < 0 for x in think)
        or think[0] > think[1]
    ):
        f.fail("load.think_time_s", "[min, max] seconds, 0 <= min <= max", think)
    return Load(
        model=model,  # type: ignore[arg-type]
        stages=tuple(stages),
        max_users=None
        if m.get("max_users") is None
        else int(f.number(m["max_users"], "load.max_users", low=1, integer=True)),
        spawn_rate=f.number(m.get("spawn_rate", 50.0), "load.spawn_rate", low=0, low_open=True),
        think_time_s=(float(think[0]), float(think[1])),
    )


def _mix(f: _Fields, value: Any) -> dict[str, float]:
    m = f.mapping(value, "mix", USER_TYPES)
    weights = {k: f.number(v, f"mix.{k}", low=0) for k, v in m.items()}
    if not any(weights.values()):
        f.fail("mix", "at least one user type with a weight above 0", value)
    if not (weights.get("shopper") or weights.get("pos")):
        # A refunder refunds part of a payment made earlier in the run.
        f.fail("mix", "a weight above 0 for shopper or pos (refunds need payments)", value)
    return weights


def _client(f: _Fields, value: Any) -> ClientPolicy:
    m = f.mapping(value, "client", CLIENT_FIELDS)
    d = ClientPolicy()
    return ClientPolicy(
        timeout_s=f.number(
            m.get("timeout_s", d.timeout_s), "client.timeout_s", low=0, low_open=True, high=300
        ),
        retry=f.choice(
            m.get("retry", d.retry),
            "client.retry",  # type: ignore[arg-type]
            ("none", "immediate", "backoff"),
        ),
        max_retries=int(
            f.number(
                m.get("max_retries", d.max_retries),
                "client.max_retries",
                low=0,
                high=20,
                integer=True,
            )
        ),
        resolve_uncertain=f.boolean(
            m.get("resolve_uncertain", d.resolve_uncertain), "client.resolve_uncertain"
        ),
        resolve_deadline_s=f.number(
            m.get("resolve_deadline_s", d.resolve_deadline_s),
            "client.resolve_deadline_s",
            low=0,
            low_open=True,
            high=600,
        ),
        weak_network_share=f.number(
            m.get("weak_network_share", d.weak_network_share),
            "client.weak_network_share",
            low=0,
            high=1,
        ),
    )


def _gateway(f: _Fields, value: Any) -> dict[str, Any]:
    """Overrides of the embedded gateway's profile, checked by the gateway's own rules."""
    if value is None:
        return {}
    try:
        apply_overrides(value)
    except ProfileError as exc:
        raise ScenarioError(f"{f.source}: gateway.{exc}") from None
    return dict(value)


def _population(f: _Fields, value: Any) -> Population:
    m = f.mapping(value, "population", ("seed", "accounts", "merchants"))
    d = Population()
    return Population(
        seed=int(f.number(m.get("seed", d.seed), "population.seed", integer=True)),
        accounts=int(
            f.number(
                m.get("accounts", d.accounts),
                "population.accounts",
                low=1,
                high=999_999,
                integer=True,
            )
        ),
        merchants=int(
            f.number(
                m.get("merchants", d.merchants),
                "population.merchants",
                low=1,
                high=99_999,
                integer=True,
            )
        ),
    )


def _fault(f: _Fields, value: Any, i: int, duration: float) -> FaultSpec:
    """One fault of the timeline, checked by the gateway's own fault parser."""
    where = f"faults[{i}]"
    try:
        spec = parse_fault(value, CHANNEL_NAMES)
    except FaultSpecError as exc:
        raise ScenarioError(f"{f.source}: {where}.{exc.field}: {exc.reason}") from None
    if spec.start_in_s >= duration:
        f.fail(f"{where}.start_in_s", f"a time within duration_s ({duration:g})", spec.start_in_s)
    return FaultSpec(
        kind=spec.kind,
        params=dict(value.get("params") or {}),
        target=dict(value.get("target") or {}),
        start_in_s=spec.start_in_s,
        duration_s=spec.duration_s,
        seed=spec.seed,
    )


def _slo(f: _Fields, value: Any) -> SLO:
    m = f.mapping(
        value,
        "slo",
        (
            "success_rate",
            "p95_ms",
            "p99_ms",
            "ghost_charges",
            "dropped_rate",
            "had_credit_failure_rate",
        ),
    )

    def rate(key: str) -> float | None:
        return None if m.get(key) is None else f.number(m[key], f"slo.{key}", low=0, high=1)

    def ms(key: str) -> float | None:
        return None if m.get(key) is None else f.number(m[key], f"slo.{key}", low=0, low_open=True)

    ghosts = m.get("ghost_charges")
    return SLO(
        success_rate=rate("success_rate"),
        p95_ms=ms("p95_ms"),
        p99_ms=ms("p99_ms"),
        ghost_charges=None
        if ghosts is None
        else int(f.number(ghosts, "slo.ghost_charges", low=0, integer=True)),
        dropped_rate=rate("dropped_rate"),
        had_credit_failure_rate=rate("had_credit_failure_rate"),
    )


def _guard(f: _Fields, value: Any) -> Guard:
    m = f.mapping(value, "guard", ("min_success_rate", "for_s"))
    floor = m.get("min_success_rate")
    return Guard(
        min_success_rate=None
        if floor is None
        else f.number(floor, "guard.min_success_rate", low=0, high=1),
        for_s=f.number(m.get("for_s", 15.0), "guard.for_s", low=0, low_open=True),
    )


def to_dict(scenario: Scenario) -> dict[str, Any]:
    """The resolved scenario, every default filled in, as it is written into a results folder."""
    data = asdict(scenario)
    data["load"]["stages"] = [
        {k: v for k, v in stage.items() if v is not None} for stage in data["load"]["stages"]
    ]
    data["load"]["think_time_s"] = list(scenario.load.think_time_s)
    data["faults"] = list(data["faults"])
    return data


def dump(scenario: Scenario) -> str:
    return yaml.safe_dump(to_dict(scenario), sort_keys=False, allow_unicode=True)

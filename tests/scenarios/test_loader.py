from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scenarios.loader import ScenarioError, catalogue, dump, load_scenario, parse_scenario
from scenarios.model import rate_at, users_at

MINIMAL = {
    "name": "t",
    "duration_s": 30,
    "load": {"model": "users", "stages": [{"until_s": 30, "users": 5}]},
}


def _with(path: str, value: object) -> dict[str, object]:
    """MINIMAL with one dotted field replaced (or removed when value is ...)."""
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data  # type: ignore[no-any-return]


def test_minimal_scenario_gets_every_default() -> None:
    s = parse_scenario(MINIMAL, "t.yaml")
    assert s.description == ""
    assert s.client.timeout_s == 5.0
    assert s.mix.weights() == {"shopper": 100.0, "pos": 0.0, "refund": 0.0}
    assert s.slo.success_rate is None
    assert s.faults == ()


def test_the_mix_and_the_weak_network_share_are_read() -> None:
    data = {
        **MINIMAL,
        "mix": {"shopper": 85, "pos": 10, "refund": 5},
        "client": {"weak_network_share": 0.05},
    }
    s = parse_scenario(data, "t.yaml")
    assert s.mix.weights() == {"shopper": 85.0, "pos": 10.0, "refund": 5.0}
    assert s.client.weak_network_share == 0.05
    assert parse_scenario(yaml.safe_load(dump(s)), "again.yaml") == s


def test_resolved_dump_loads_back_to_the_same_scenario() -> None:
    s = parse_scenario(MINIMAL, "t.yaml")
    assert parse_scenario(yaml.safe_load(dump(s)), "again.yaml") == s


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        (("name", ...), "name", "required"),
        (("duration_s", "long"), "duration_s", "a number"),
        (("duration_s", -5), "duration_s", "> 0"),
        (("surprise", 1), "surprise", "known fields"),
        (("load.model", "closed"), "load.model", "one of arrival-rate, users"),
        (("load.stages", []), "load.stages", "at least one stage"),
        (("load.stages", [{"until_s": 30, "users": -1}]), "load.stages[0].users", ">= 0"),
        (("load.stages", [{"until_s": 30, "users": 2.5}]), "load.stages[0].users", "whole number"),
        (
            ("load.stages", [{"until_s": 20, "users": 1}, {"until_s": 10, "users": 2}]),
            "load.stages[1].until_s",
            "after the previous",
        ),
        (("load.stages", [{"until_s": 10, "users": 1}]), "load.stages", "covering duration_s"),
        (
            ("load.stages", [{"until_s": 30, "users": 1, "ramp": "wobbly"}]),
            "load.stages[0].ramp",
            "linear, step",
        ),
        (("load.stages", [{"until_s": 30, "rate": 5}]), "load.stages[0].rate", "'users'"),
        (("load.stages", [{"until_s": 30}]), "load.stages[0].users", "required"),
        (("mix", {"shopper": 50, "alien": 50}), "mix.alien", "known fields"),
        (("mix", {"shopper": 0}), "mix", "weight above 0"),
        (("mix", {"refund": 10}), "mix", "shopper or pos"),
        (("mix", {"pos": -1}), "mix.pos", ">= 0"),
        (("client", {"weak_network_share": 1.5}), "client.weak_network_share", "<= 1"),
        (("client", {"weak_network_share": "some"}), "client.weak_network_share", "a number"),
        (("client", {"retry": "sometimes"}), "client.retry", "backoff, immediate, none"),
        (("client", {"timeout_s": 0}), "client.timeout_s", "> 0"),
        (("slo", {"success_rate": 1.5}), "slo.success_rate", "<= 1"),
        (("slo", {"p99_ms": "fast"}), "slo.p99_ms", "a number"),
        (("faults", [{"kind": "meteor"}]), "faults[0].kind", "one of blackhole, capacity"),
        (("faults", [{"kind": "latency", "params": {"ms": -1}}]), "faults[0].params.ms", ">= 0"),
        (
            ("faults", [{"kind": "latency", "params": {"ms": 5}, "target": {"route": "x"}}]),
            "faults[0].target.route",
            "one of pay",
        ),
        (
            ("faults", [{"kind": "channel_outage", "params": {"channel": "bank_z"}}]),
            "faults[0].params.channel",
            "bank_a",
        ),
        (
            ("faults", [{"kind": "latency", "params": {"ms": 5}, "start_in_s": 99}]),
            "faults[0].start_in_s",
            "within duration_s",
        ),
        (("gateway", {"failover": "yes"}), "gateway.failover", "true or false"),
        (
            ("gateway", {"channels": {"bank_a": {"concurrency": 0}}}),
            "gateway.channels.bank_a.concurrency",
            ">= 1",
        ),
        (("guard", {"for_s": True}), "guard.for_s", "a number"),
        (("target", {"url": "ftp://127.0.0.1"}), "target.url", "http://HOST:PORT"),
        (("target", {"url": "http://127.0.0.1:1/v1"}), "target.url", "no path or query"),
        (("target", {"proxy": "yes"}), "target.proxy", "true or false"),
        (("client", {"adapter": "no_colon"}), "client.adapter", "package.module:Name"),
    ],
)
def test_bad_field_names_file_field_and_expectation(
    change: tuple[str, object], field: str, expected: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(_with(*change), "bad.yaml")
    message = str(info.value)
    assert message.startswith(f"bad.yaml: {field}: expected"), message
    assert expected in message
    assert "\n" not in message


ARRIVALS = {
    "name": "a",
    "duration_s": 30,
    "load": {"model": "arrival-rate", "stages": [{"until_s": 30, "rate": 12.5}]},
}


def test_an_arrival_rate_scenario_reads_rates_and_the_pool() -> None:
    s = parse_scenario(
        {
            **ARRIVALS,
            "load": {
                "model": "arrival-rate",
                "max_users": 50,
                "stages": [
                    {"until_s": 10, "rate": 0.5},
                    {"until_s": 20, "rate": 300, "ramp": "linear"},
                    {"until_s": 30, "rate": 0},
                ],
            },
        },
        "a.yaml",
    )
    assert s.load.model == "arrival-rate" and s.load.max_users == 50
    assert [st.rate for st in s.load.stages] == [0.5, 300.0, 0.0]
    assert all(st.users is None for st in s.load.stages)
    assert rate_at(s.load.stages, 15) == pytest.approx(150.25)
    assert parse_scenario(yaml.safe_load(dump(s)), "again.yaml") == s
    unsized = parse_scenario(ARRIVALS, "a.yaml")
    assert unsized.load.max_users is None  # sized from the scenario (scenarios.pool)
    assert parse_scenario(yaml.safe_load(dump(unsized)), "again.yaml") == unsized


@pytest.mark.parametrize(
    ("load", "field", "expected"),
    [
        (
            {"stages": [{"until_s": 30, "users": 5}]},
            "load.stages[0].users",
            "'rate' (payments started per second) in a stage of load.model arrival-rate",
        ),
        (
            {"stages": [{"until_s": 30, "users": 5, "rate": 5}]},
            "load.stages[0].users",
            "'rate'",
        ),
        ({"stages": [{"until_s": 30, "rate": -1}]}, "load.stages[0].rate", ">= 0"),
        ({"stages": [{"until_s": 30, "rate": "fast"}]}, "load.stages[0].rate", "a number"),
        ({"stages": [{"until_s": 30}]}, "load.stages[0].rate", "required"),
        (
            {"stages": [{"until_s": 30, "rate": 1, "ramp": "curvy"}]},
            "load.stages[0].ramp",
            "linear, step",
        ),
        ({"max_users": 0}, "load.max_users", ">= 1"),
        ({"max_users": 2.5}, "load.max_users", "a whole number, got 2.5"),
    ],
)
def test_a_bad_arrival_rate_field_is_one_line_naming_it(
    load: dict[str, object], field: str, expected: str
) -> None:
    data = yaml.safe_load(yaml.safe_dump(ARRIVALS))
    data["load"].update(load)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, "open.yaml")
    message = str(info.value)
    assert message.startswith(f"open.yaml: {field}: expected"), message
    assert expected in message
    assert "\n" not in message


def test_unknown_name_and_invalid_yaml_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario"):
        load_scenario("no-such-scenario")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"broken\.yaml: line \d+: expected valid YAML"):
        load_scenario(str(broken))


def test_every_catalogue_scenario_loads() -> None:
    names = catalogue()
    assert "flash-sale" in names
    for name in names:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.description


def test_levels_follow_steps_and_linear_ramps() -> None:
    s = parse_scenario(
        {
            "name": "r",
            "duration_s": 30,
            "load": {
                "model": "users",
                "stages": [
                    {"until_s": 10, "users": 10},
                    {"until_s": 20, "users": 110, "ramp": "linear"},
                    {"until_s": 30, "users": 5},
                ],
            },
        },
        "r.yaml",
    )
    stages = s.load.stages
    assert users_at(stages, 0) == 10
    assert users_at(stages, 9.9) == 10
    assert users_at(stages, 15) == 60  # halfway up the ramp from 10 to 110
    assert users_at(stages, 25) == 5
    assert users_at(stages, 30) == 0  # after the last stage
    assert rate_at(stages, 5) == 0.0  # a users stage offers no arrival rate


def test_bad_scenario_on_the_command_line_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_with("load.stages", [{"until_s": 30, "users": -3}])))
    proc = subprocess.run(
        [sys.executable, "-m", "paystorm", "run", str(bad), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "bad.yaml" in lines[0] and "load.stages[0].users" in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "out").exists()  # nothing started, nothing written

"""monitoring/: the alerting rules pass `promtool check rules`, their unit tests pass `promtool
test rules` (and fail when a rule is broken), the dashboard's queries parse, and every metric
either names is one a real gateway exposes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract.codes import LEGITIMATE_DECLINES
from tests.monitoring.support import gateway
from tests.needs import require

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
RULES = MONITORING / "alerts.yml"
RULE_TESTS = MONITORING / "alerts_test.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
METRIC = re.compile(r"\b((?:paystorm|process)_[a-z_]+)")
# Families Prometheus derives from a histogram or counter name, and its own `up`.
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def _promtool() -> str:
    path = shutil.which("promtool")
    require(path is not None, "promtool not installed (apt-get install prometheus)")
    assert path is not None
    return path


def _run(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def test_the_rules_pass_promtool_check_and_their_unit_tests() -> None:
    checked = _run("check", "rules", RULES.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{len(_rules())} rules found" in checked.stdout
    tested = _run("test", "rules", RULE_TESTS.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # Every alert has a test case of its own.
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    tested_alerts = {a["alertname"] for case in cases for a in case["alert_rule_test"]}
    assert tested_alerts == {rule["alert"] for rule in _rules()}


def test_a_broken_rule_fails_its_unit_test(tmp_path: Path) -> None:
    # The breaker alert asked only for a fully open breaker: the half-open probe in the test
    # series resets it, and the unit test must say so.
    text = RULES.read_text().replace(
        "(paystorm_channel_breaker_state) >= 1", "(paystorm_channel_breaker_state) >= 2"
    )
    assert text != RULES.read_text()
    (tmp_path / RULES.name).write_text(text)
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    tested = _run("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert tested.returncode != 0
    assert "PaystormChannelBreakerOpen" in tested.stdout + tested.stderr


def test_the_success_ratio_leaves_out_exactly_the_legitimate_declines() -> None:
    (rule,) = [r for r in _rules() if r["alert"] == "PaystormSuccessRatioLow"]
    (excluded,) = re.findall(r'code!~"([^"]+)"', rule["expr"])
    assert set(excluded.split("|")) == LEGITIMATE_DECLINES
    for expr in _dashboard_exprs():
        for found in re.findall(r'code!~"([^"]+)"', expr):
            assert set(found.split("|")) == LEGITIMATE_DECLINES


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    exprs = _dashboard_exprs()
    assert len(exprs) >= 10
    # promtool parses PromQL only inside rules: each query becomes a recording rule.
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(exprs)
    ]}]}  # fmt: skip
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    checked = _run("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


@pytest.fixture(scope="module")
def exposed() -> Iterator[set[str]]:
    """The metric families a real gateway exposes on /metrics."""
    with gateway("--admin-token", "t" * 24) as url:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        yield set(re.findall(r"^# TYPE (\S+) ", text, re.M))


def test_every_metric_named_is_one_the_gateway_exposes(exposed: set[str]) -> None:
    texts = [rule["expr"] for rule in _rules()] + _dashboard_exprs()
    named = {m for text in texts for m in METRIC.findall(text)}
    assert len(named) >= 10
    for name in sorted(named):
        base = name
        for suffix in SUFFIXES:
            base = base.removesuffix(suffix)
        assert name in exposed or base in exposed, name

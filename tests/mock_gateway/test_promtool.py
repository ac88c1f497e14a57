"""GET /metrics passes Prometheus's own linter, `promtool check metrics` (Debian's `prometheus`
package; .ci/run installs it). Skipped, saying why, where promtool is not installed; on CI
(`CI=true`) a missing promtool fails instead."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest

from tests.mock_gateway.chaos_support import Chaos
from tests.mock_gateway.support import PAY, Api, payment_body
from tests.needs import require, require_module


def _promtool() -> str:
    path = shutil.which("promtool")
    require(path is not None, "promtool not installed (apt-get install prometheus)")
    assert path is not None
    return path


def _check(text: bytes) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), "check", "metrics"],
        input=text.decode(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_metrics_pass_promtool_check_metrics(api: Api) -> None:
    _promtool()
    # Traffic that gives every family samples: payments, declines, refunds, bad input, a fault.
    user = await api.payer(5_000)
    shop = await api.shop()
    paid = await api.pay("k-1", payment_body(user, shop, 1_000))
    assert paid.status == 200
    assert (await api.pay("k-2", payment_body(user, shop, 10**7))).status == 402
    assert (await api.refund(paid.json()["payment_id"], "r-1", 10)).status == 200
    assert (await api.post(PAY, key="k-3", data=b"{")).status == 400
    await Chaos(api).add_active({"kind": "latency", "params": {"ms": 1}})
    assert (await api.pay("k-4", payment_body(user, shop, 100))).status == 200
    reply = await api.get("/metrics")
    assert reply.status == 200

    done = await asyncio.to_thread(_check, reply.body)

    assert done.returncode == 0, done.stdout + done.stderr
    assert b"paystorm_" in reply.body


def test_promtool_does_refuse_bad_exposition_text() -> None:
    # The check above would be empty if promtool passed everything.
    bad = b"# TYPE thing_seconds counter\nthing_seconds{le=} 1\n"
    assert _check(bad).returncode != 0


def test_a_missing_tool_is_skipped_here_and_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    # The rule of every test that needs something from the machine (tests/needs.py).
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="promtool not installed"):
        require(False, "promtool not installed")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"promtool not installed .*CI=true"):
        require(False, "promtool not installed")
    with pytest.raises(pytest.fail.Exception, match="needs the playwright package"):
        require_module("no_such_module_here", "needs the playwright package")
    require(True, "present: nothing happens")
    assert require_module("json", "the standard library").dumps([]) == "[]"
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        require(False, "promtool not installed")

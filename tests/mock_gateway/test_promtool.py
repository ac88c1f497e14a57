"""GET /metrics passes Prometheus's own linter, `promtool check metrics` (Debian's `prometheus`
package; .ci/run installs it). Skipped, saying why, where promtool is not installed."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest

from tests.mock_gateway.chaos_support import Chaos
from tests.mock_gateway.support import PAY, Api, payment_body

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)"
)


def _check(text: bytes) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, "check", "metrics"],
        input=text.decode(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_metrics_pass_promtool_check_metrics(api: Api) -> None:
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

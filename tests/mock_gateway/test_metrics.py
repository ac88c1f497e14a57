"""GET /metrics: Prometheus text that counts what the gateway really did."""

from __future__ import annotations

import itertools
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.mock_gateway.support import PAY, Api, payment_body

AMOUNT = 1_000


def _samples(text: str) -> dict[str, dict[str, Any]]:
    """{family: {"type": ..., "samples": [(name, labels, value)]}}"""
    return {
        f.name: {"type": f.type, "samples": [(s.name, s.labels, s.value) for s in f.samples]}
        for f in text_string_to_metric_families(text)
    }


def _value(families: dict[str, dict[str, Any]], sample: str, **labels: str) -> float:
    for family in families.values():
        for name, got, value in family["samples"]:
            if name == sample and got == labels:
                return float(value)
    raise AssertionError(f"no sample {sample}{labels}")


async def _scrape(api: Api) -> dict[str, dict[str, Any]]:
    reply = await api.get("/metrics")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/plain")
    return _samples(reply.body.decode())


async def test_metrics_count_requests_outcomes_and_commits(api: Api) -> None:
    user = await api.payer(3 * AMOUNT)
    shop = await api.shop()
    frozen = (await api.find_account(lambda a: a["status"] == "FROZEN"))["user_id"]
    base = await _scrape(api)
    assert not [s for s in base["paystorm_http_requests"]["samples"] if s[1]["route"] == PAY]

    paid = [await api.pay(f"k-{n}", payment_body(user, shop, AMOUNT)) for n in range(3)]
    declined = await api.pay("k-frozen", payment_body(frozen, shop, AMOUNT))
    replay = await api.pay("k-0", payment_body(user, shop, AMOUNT))
    invalid = await api.post(PAY, key="k-invalid", body={"amount": 0})
    refund = await api.refund(paid[0].json()["payment_id"], "r-1", 10)
    assert [r.status for r in (*paid, declined, replay, invalid, refund)] == [
        200, 200, 200, 403, 200, 400, 200,
    ]  # fmt: skip

    m = await _scrape(api)

    assert m["paystorm_http_requests"]["type"] == "counter"
    assert _value(m, "paystorm_http_requests_total", route=PAY, status="200") == 4
    assert _value(m, "paystorm_http_requests_total", route=PAY, status="403") == 1
    assert _value(m, "paystorm_http_requests_total", route=PAY, status="400") == 1
    refunds_route = "/v1/payments/{payment_id}/refunds"
    assert _value(m, "paystorm_http_requests_total", route=refunds_route, status="200") == 1

    hist = m["paystorm_http_request_duration_seconds"]
    assert hist["type"] == "histogram"
    count = _value(m, "paystorm_http_request_duration_seconds_count", route=PAY)
    assert count == 6
    buckets = sorted(
        (float(labels["le"]), value)
        for name, labels, value in hist["samples"]
        if name.endswith("_bucket") and labels["route"] == PAY
    )
    assert buckets[-1] == (float("inf"), count)
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(buckets))
    assert _value(m, "paystorm_http_request_duration_seconds_sum", route=PAY) > 0

    # Outcomes of POST /v1/payments by code; replays are not new outcomes.
    assert m["paystorm_payment_outcomes"]["type"] == "counter"
    assert _value(m, "paystorm_payment_outcomes_total", code="OK") == 3
    assert _value(m, "paystorm_payment_outcomes_total", code="ACCOUNT_FROZEN") == 1
    assert _value(m, "paystorm_payment_outcomes_total", code="INVALID_REQUEST") == 1
    outcomes = sum(
        v for n, _l, v in m["paystorm_payment_outcomes"]["samples"] if n.endswith("_total")
    )
    assert outcomes == 6 - 1  # every POST /v1/payments but the replay

    assert m["paystorm_inflight_requests"]["type"] == "gauge"
    assert _value(m, "paystorm_inflight_requests") == 1  # the scrape itself

    # Three payments, one decline and one refund were written; the replay and the bad
    # request were not.
    writes = _value(m, "paystorm_ledger_committed_writes_total")
    commits = _value(m, "paystorm_ledger_commits_total")
    assert writes - _value(base, "paystorm_ledger_committed_writes_total") == 5
    assert 1 <= commits <= writes
    assert 1 <= _value(m, "paystorm_ledger_largest_batch") <= writes

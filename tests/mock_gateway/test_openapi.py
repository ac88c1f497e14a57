"""GET /openapi.json describes exactly the routes the app serves, and what they answer.

Every reply in every gateway test already goes through `Contract.check` (see support.Api):
its status must be documented for its route and its body must match the documented schema."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict, CIMultiDictProxy

from tests.mock_gateway.support import PAY, TOKEN, Api, Contract, Reply, payment_body
from tests.mock_gateway.test_bad_input import INVALID, Case


async def test_document_routes_are_the_app_routes(
    client: TestClient[web.Request, web.Application], api: Api
) -> None:
    served = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    doc = api.contract.doc
    documented = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    assert served == documented
    assert doc["openapi"].startswith("3.1")
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(set(operation_ids)) == len(operation_ids)


async def test_every_route_answers_as_documented(api: Api) -> None:
    """A tour through each operation's answers; Api.call checks each one."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    user = await api.payer(5_000)
    shop = await api.shop()
    frozen = (await api.find_account(lambda a: a["status"] == "FROZEN"))["user_id"]
    pay = await api.pay("k-1", payment_body(user, shop, 5_000))
    pid = pay.json()["payment_id"]
    steps = [
        pay,
        await api.pay("k-1", payment_body(user, shop, 5_000)),
        await api.pay("k-1", payment_body(user, shop, 5_001)),
        await api.pay("k-2", payment_body(frozen, shop, 100)),
        await api.pay("k-3", payment_body(user, "m99999", 100)),
        await api.pay("k-4", payment_body(user, shop, 50_000_000)),
        await api.post(PAY, key="k-5", data=b"nope"),
        await api.get(f"{PAY}/{pid}"),
        await api.get(f"{PAY}/pay_none"),
        await api.refund(pid, "r-1", 100),
        await api.refund(pid, "r-1", 101),
        await api.refund(pid, "r-2", 10**9),
        await api.refund("pay_none", "r-3", 1),
        await api.reverse(pid),
        await api.reverse("pay_none"),
        await api.get(f"/v1/accounts/{user}"),
        await api.get("/v1/accounts/u999999"),
        await api.get(f"/v1/merchants/{shop}"),
        await api.get("/v1/merchants/m99999"),
        await api.get("/healthz"),
        await api.get("/metrics"),
        await api.get("/openapi.json"),
        await api.get("/_admin/audit"),
        await api.get("/_admin/audit", headers={"Authorization": "Bearer wrong"}),
        await api.get("/_admin/audit", headers={"Authorization": f"Bearer {TOKEN}"}),
        await api.get("/_chaos/faults"),
        await api.post(
            "/_chaos/faults", body={"kind": "latency", "params": {"ms": 1}}, headers=auth
        ),
        await api.post(
            "/_chaos/faults", body={"kind": "latency", "params": {"ms": -1}}, headers=auth
        ),
        await api.get("/_chaos/faults", headers=auth),
        await api.get("/_chaos/events", headers=auth),
        await api.call("DELETE", "/_chaos/faults/f999", headers=auth),
        await api.call("DELETE", "/_chaos/faults/f1", headers=auth),
        await api.call("DELETE", "/_chaos/faults", headers=auth),
        await api.get("/_admin/payments?key_prefix=k-", headers=auth),
        await api.get("/_admin/payments"),
    ]
    assert [s.status for s in steps] == [
        200, 200, 422, 403, 404, 402, 400, 200, 404, 200, 422, 400, 404, 200, 404,
        200, 404, 200, 404, 200, 200, 200, 401, 401, 200,
        401, 201, 400, 200, 200, 404, 200, 200, 200, 401,
    ]  # fmt: skip
    operations = {(m.upper(), p) for p, ops in api.contract.doc["paths"].items() for m in ops}
    assert {(m, t) for m, t, _s in api.contract.seen} == operations


def _reply(status: int, body: object, path: str = "/v1/accounts/u1") -> Reply:
    headers = CIMultiDictProxy(CIMultiDict({"Content-Type": "application/json"}))
    return Reply("GET", path, status, headers, json.dumps(body).encode())


async def test_the_contract_check_can_fail(api: Api) -> None:
    contract: Contract = api.contract
    account = {
        "user_id": "u1",
        "credit_limit": 1,
        "available_credit": 1,
        "txn_limit": 1,
        "status": "ACTIVE",
    }
    contract.check(_reply(200, account))
    with pytest.raises(AssertionError, match="documented"):
        contract.check(_reply(418, {"error": {}}))
    with pytest.raises(AssertionError):
        contract.check(_reply(200, {**account, "status": "GONE"}))
    with pytest.raises(AssertionError):
        contract.check(_reply(200, {k: v for k, v in account.items() if k != "txn_limit"}))
    with pytest.raises(AssertionError):
        contract.check(_reply(500, {"error": {"code": "NOT_FOUND"}}, path="/nowhere"))


VALID = payment_body("u000001", "m00001", 100, order_id="o-1")


def _json_body(case: Case) -> bool:
    """Cases whose body is JSON within the size limit: what a schema can speak about."""
    raw = case[2](VALID)
    try:
        json.loads(raw)
    except ValueError:
        return False
    return case[3] != "Idempotency-Key" and len(raw) <= 64 * 1024


# JSON Schema counts 100.0 as an integer; the gateway, rightly for money, does not.
SCHEMA_CASES = [c for c in INVALID if _json_body(c) and c[0] != "amount 100.0"]


async def test_request_schema_accepts_a_valid_payment(api: Api) -> None:
    api.contract.validate_named("PaymentRequest", VALID)
    full = {**VALID, "client": {"app_version": "9.1.0", "network": "weak"}}
    api.contract.validate_named("PaymentRequest", full)
    api.contract.validate_named("RefundRequest", {"amount": 1})


@pytest.mark.parametrize("case", SCHEMA_CASES, ids=lambda c: c[0])
async def test_request_schema_refuses_what_the_server_refuses(api: Api, case: Case) -> None:
    body = json.loads(case[2](VALID))
    with pytest.raises(AssertionError):
        api.contract.validate_named("PaymentRequest", body)

"""GET /openapi.json describes exactly the routes the app serves, and what they answer.

Every reply in every gateway test already goes through `Contract.check` (see support.Api):
its status must be documented for its route and its body must match the documented schema."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict, CIMultiDictProxy

from contract import bodies, routes
from contract.codes import CATALOGUE
from faults import REGISTRY
from mock_gateway import openapi
from tests.mock_gateway.support import PAY, TOKEN, Api, Contract, Reply, payment_body
from tests.mock_gateway.test_bad_input import INVALID, Case
from tests.needs import require_module


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
    # An error's code must be one of its status's.
    error = {
        "code": "NOT_FOUND",
        "message": "No such resource.",
        "message_zh": "资源不存在。",
        "action": "Check the id in the request.",
        "retryable": False,
        "request_id": "r1",
    }
    contract.check(_reply(404, {"error": error}))
    with pytest.raises(AssertionError):
        contract.check(_reply(409, {"error": error}))


VALID = payment_body("u000001", "m00001", 100, order_id="o-1")


def _json_body(case: Case) -> bool:
    """Cases whose body is JSON within the size limit: what a schema can speak about."""
    raw = case[2](VALID)
    try:
        json.loads(raw)
    except ValueError:
        return False
    return case[3] != "Idempotency-Key" and len(raw) <= 64 * 1024


SCHEMA_CASES = [c for c in INVALID if _json_body(c)]


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


# -- the document as generated --------------------------------------------------------------

DOC = openapi.document()
OPERATIONS = {
    op["operationId"]: (path, op) for path, ops in DOC["paths"].items() for op in ops.values()
}


def test_document_is_valid_openapi_3_1() -> None:
    validator = require_module(
        "openapi_spec_validator",
        "openapi-spec-validator is a dev dependency (pip install -e .[dev])",
    )
    validator.validate(DOC)


def test_paths_are_the_route_table() -> None:
    documented = {(m.upper(), p) for p, ops in DOC["paths"].items() for m in ops}
    assert documented == {(r.method, r.path) for r in routes.ALL_ROUTES}


def test_body_schemas_are_the_structs_requests_are_decoded_with() -> None:
    _, generated = msgspec.json.schema_components(
        (*bodies.REQUESTS, *bodies.ANSWERS), ref_template=openapi.REF
    )
    assert {name: DOC["components"]["schemas"][name] for name in generated} == generated
    assert DOC["paths"][routes.PAY.path]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/PaymentRequest"}


def test_each_operation_declares_every_status_it_can_answer() -> None:
    # The error fault may answer any catalogue error on a payment route.
    injectable = {
        str(spec.http_status)
        for spec in CATALOGUE.values()
        if spec.http_status >= 400 and spec.code != "UNAUTHORIZED"
    }
    assert {"402", "409", "422", "429", "503"} <= injectable
    for route in routes.ALL_ROUTES:
        op = DOC["paths"][route.path][route.method.lower()]
        declared = set(op["responses"])
        assert {"413", "414", "431", "500"} <= declared, route
        if route in routes.PAYMENT_ROUTES:
            assert injectable <= declared, (route, injectable - declared)
        guarded = route.path.startswith(routes.PROTECTED_PREFIXES)
        assert ("401" in declared) == guarded == ("security" in op), route
    assert "202" in DOC["paths"][routes.PAY.path]["post"]["responses"]
    assert "404" in DOC["paths"][routes.DELETE_FAULT.path]["delete"]["responses"]


def test_links_lead_from_a_created_id_to_the_operations_that_take_it() -> None:
    found: dict[str, set[str]] = {}
    for ops in DOC["paths"].values():
        for op in ops.values():
            for answer in op["responses"].values():
                for link in answer.get("links", {}).values():
                    path, _target = OPERATIONS[link["operationId"]]
                    assert set(link["parameters"]) == set(re.findall(r"\{(\w+)\}", path))
                    found.setdefault(op["operationId"], set()).add(link["operationId"])
    payment = {"getPayment", "reversePayment", "refundPayment"}
    assert found == {
        "createPayment": payment | {"getAccount", "getMerchant"},
        "reversePayment": payment,
        "refundPayment": payment,
        "addFault": {"removeFault"},
    }
    pay = OPERATIONS["createPayment"][1]["responses"]
    # A decline is recorded: its id leads on, as a success's and a pending payment's do.
    assert {status for status, answer in pay.items() if "links" in answer} == {
        "200",
        "202",
        "402",
        "403",
    }


def _follow(reply: Reply, caller: str, operation_id: str) -> str:
    """The path `caller`'s link to `operation_id` leads to, its parameter read from `reply`."""
    link = OPERATIONS[caller][1]["responses"][str(reply.status)]["links"][operation_id]
    ((name, expression),) = link["parameters"].items()
    value: Any = reply.json()
    for step in expression.removeprefix("$response.body#/").split("/"):
        value = value[step]
    template = OPERATIONS[operation_id][0]
    return str(template.replace("{" + name + "}", value))


async def test_links_resolve_on_real_answers(api: Api) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    paid = await api.pay("k-link", payment_body(await api.payer(500), await api.shop(), 500))
    assert paid.status == 200
    assert (await api.get(_follow(paid, "createPayment", "getPayment"))).status == 200
    refunds = _follow(paid, "createPayment", "refundPayment")
    assert (await api.post(refunds, key="r-link", body={"amount": 1})).status == 200
    assert (await api.post(_follow(paid, "createPayment", "reversePayment"))).status == 200
    fault = await api.post(
        "/_chaos/faults", body={"kind": "latency", "params": {"ms": 1}}, headers=auth
    )
    assert fault.status == 201
    removed = await api.call("DELETE", _follow(fault, "addFault", "removeFault"), headers=auth)
    assert removed.status == 200


async def test_a_declines_links_lead_to_its_conflicts(api: Api) -> None:
    """A decline is recorded: its id leads to the payment (FAILED), to a reversal that has
    nothing to release, and to a refund refused as the conflict it is."""
    frozen = (await api.find_account(lambda a: a["status"] == "FROZEN"))["user_id"]
    declined = await api.pay("k-declined", payment_body(frozen, await api.shop(), 100))
    assert declined.status == 403
    assert (await api.get(_follow(declined, "createPayment", "getPayment"))).json()[
        "status"
    ] == "FAILED"
    reversed_ = await api.post(_follow(declined, "createPayment", "reversePayment"))
    assert (reversed_.status, reversed_.json()["status"]) == (200, "FAILED")
    refund = await api.post(
        _follow(declined, "createPayment", "refundPayment"), key="r-declined", body={"amount": 1}
    )
    assert (refund.status, refund.error["code"]) == (409, "PAYMENT_NOT_REFUNDABLE")


def test_fault_params_are_checked_by_kind() -> None:
    contract = Contract(DOC)
    spec = DOC["components"]["schemas"]["FaultSpec"]
    mapping = spec["discriminator"]["mapping"]
    assert spec["discriminator"]["propertyName"] == "kind"
    assert set(mapping) == set(REGISTRY)
    assert [b["$ref"] for b in spec["oneOf"]] == list(mapping.values())
    assert {e["kind"] for e in spec["examples"]} == set(REGISTRY)
    for example in spec["examples"]:
        contract.validate_named("FaultSpec", example)
    for wrong in (
        {"kind": "latency", "params": {"ms": -1}},
        {"kind": "latency", "params": {"code": "SYSTEM_BUSY"}},
        {"kind": "error", "params": {"code": "NO_SUCH_CODE"}},
        {"kind": "error", "params": {}},  # a kind's required params are required
        {"kind": "error"},
        {"kind": "capacity", "params": None},
        {"kind": "latency", "params": {"ms": 1}, "duration_s": 0.0001},
        {"kind": "latency", "params": {"ms": 1}, "start_in_s": 10**9},
        {"kind": "latency", "params": {"ms": 1}, "target": {"channel": "bank_z"}},
        {"kind": "merchant_unsupported", "params": {"share": 0.5, "merchant_ids": ["m1"]}},
        {"kind": "merchant_unsupported", "params": {"share": None}},
    ):
        with pytest.raises(AssertionError):
            contract.validate_named("FaultSpec", wrong)
    for right in (
        {"kind": "lost_response"},
        {"kind": "lost_response", "params": None, "target": None},
        {"kind": "latency", "params": {"ms": 1.0}, "seed": 3.0},
        {"kind": "merchant_unsupported", "params": {"share": 0.5, "merchant_ids": None}},
        {"kind": "db_stall", "params": {"hold_ms": 500, "every_ms": 100}},
    ):
        contract.validate_named("FaultSpec", right)


async def test_the_chaos_api_takes_exactly_what_the_document_allows(api: Api) -> None:
    """The same specs, sent: refused where the document refuses them, accepted where not."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    contract = Contract(DOC)
    later = {"start_in_s": 3600}  # scheduled, never active while the test runs
    specs: list[dict[str, Any]] = [
        {"kind": "error", "params": {}},
        {"kind": "error", "params": {"code": "SYSTEM_BUSY"}, "duration_s": 0.0001},
        {"kind": "latency", "params": {"ms": 1}, "target": {"channel": "bank_z"}},
        {"kind": "latency", "params": {"ms": 1}, "target": {"min_inflight": 10**7}},
        {"kind": "merchant_unsupported", "params": {"share": 0.5, "merchant_ids": ["m1"]}},
        {"kind": "lost_response", "params": None, "target": None},
        {"kind": "latency", "params": {"ms": 1.0}, "seed": 3.0},
        {"kind": "capacity", "params": {"max_inflight": 4.0}},
        {"kind": "db_stall", "params": {"hold_ms": 500, "every_ms": 100}},
        # Exactly one of code and status (schemathesis found both let through by the document).
        {"kind": "error", "params": {"code": "SYSTEM_BUSY", "status": 451.0, "body": "x"}},
        {"kind": "error", "params": {"code": "SYSTEM_BUSY", "status": None}},
        {"kind": "error", "params": {"status": 451, "body": "x"}},
    ]
    for spec in specs:
        try:
            contract.validate_named("FaultSpec", {**spec, **later})
            valid = True
        except AssertionError:
            valid = False
        reply = await api.post("/_chaos/faults", body={**spec, **later}, headers=auth)
        assert reply.status == (201 if valid else 400), (spec, reply.body)
    await api.call("DELETE", "/_chaos/faults", headers=auth)

"""schemathesis against a live gateway's own /openapi.json: every documented operation, with
data that fits the document and data that breaks it. No answer is a 5xx, every answer is
documented (status, content type, body schema), data that breaks the document is refused, and
afterwards the ledger audit holds and the log has no traceback."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import AuthContext, CheckFunction, GenerationMode
from schemathesis import Case as AnyCase
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.mock_gateway.conftest import Gateways
from tests.mock_gateway.support import TOKEN, Api

# Per operation and mode; about 1,500 requests in all, a few seconds on loopback.
EXAMPLES = 50
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
Statuses = Counter[tuple[str, int]]
REAL_FAULTS: tuple[dict[str, Any], ...] = (
    {"kind": "latency", "params": {"ms": 1}, "duration_s": 5},
    {"kind": "error", "params": {"code": "SYSTEM_BUSY", "rate": 0.1}, "duration_s": 5},
    {"kind": "risk_strict", "params": {"false_positive_rate": 0.1}},
)
Case = AnyCase[Any]


class _Known:
    """Real ids, so that generated requests also reach past the lookups into the ledger."""

    def __init__(self, users: list[str], shops: list[str]) -> None:
        self.users = users
        self.shops = shops
        self.payments: list[str] = []
        self.refundable: list[str] = []  # kept from reversals, whatever order operations run in


def _steer(case: Case, data: st.DataObject, known: _Known) -> None:
    """Swap generated ids for real ones in about half the cases; only valid data is steered,
    since a swap could make an invalid case valid."""
    params = case.path_parameters or {}
    payments = known.payments
    if case.operation.label.endswith("/refunds"):
        payments = known.refundable + known.payments
    pools = {"user_id": known.users, "merchant_id": known.shops, "payment_id": payments}
    for name, pool in pools.items():
        if name in params and pool and data.draw(st.booleans()):
            params[name] = data.draw(st.sampled_from(pool))
    body = case.body
    if case.operation.label == "POST /_chaos/faults" and data.draw(st.booleans()):
        # Generated faults rarely satisfy every kind's own rules: half the time, a real one.
        case.body = data.draw(st.sampled_from(REAL_FAULTS))
        return
    if params.get("payment_id") in payments and isinstance(body, dict) and "amount" in body:
        # A refund of a real payment: small enough to fit what is left of it, most times.
        body["amount"] = data.draw(st.integers(1, 100))
    if isinstance(body, dict) and "user_id" in body and data.draw(st.booleans()):
        body["user_id"] = data.draw(st.sampled_from(known.users))
        body["merchant_id"] = data.draw(st.sampled_from(known.shops))
        body["amount"] = data.draw(st.integers(1, 5_000))


def _operation_test(
    url: str,
    case_strategy: st.SearchStrategy[Case],
    mode: GenerationMode,
    session: requests.Session,
    known: _Known,
    statuses: Statuses,
) -> Callable[[], None]:
    checks = [*CHECKS, negative_data_rejection] if mode == GenerationMode.NEGATIVE else CHECKS

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run: a failure here is a real regression
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=case_strategy, data=st.data())
    def run(case: Case, data: st.DataObject) -> None:
        if mode == GenerationMode.POSITIVE:
            _steer(case, data, known)
        response = case.call(session=session, timeout=30)
        statuses[(case.operation.label, response.status_code)] += 1
        try:
            case.validate_response(response, checks=checks)
        finally:
            label = case.operation.label
            if label == "POST /v1/payments" and response.status_code == 200:
                known.payments.append(response.json()["payment_id"])
            if label == "POST /_chaos/faults" and response.status_code == 201:
                # A fault that fits the document is a real one: remove it before it shapes
                # the answers to the requests that follow.
                cleared = session.delete(url + "/_chaos/faults", headers=_auth(), timeout=30)
                assert cleared.status_code == 200

    return run


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def _fuzz(url: str, known: _Known) -> Statuses:
    schema = schemathesis.openapi.from_url(url + "/openapi.json")

    @schema.auth().apply_to(path_regex="^/_(admin|chaos)/")
    class _Bearer:
        def get(self, case: Case, ctx: AuthContext) -> str:
            return TOKEN

        def set(self, case: Case, data: str, ctx: AuthContext) -> None:
            case.headers["Authorization"] = f"Bearer {data}"

    statuses: Statuses = Counter()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result  # the document itself is valid
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = operation.as_strategy(generation_mode=mode)
                run = _operation_test(url, strategy, mode, session, known, statuses)
                try:
                    run()
                except Unsatisfiable:
                    # Nothing to break: an operation whose only input is a path parameter that
                    # may be any string has no invalid data.
                    assert mode == GenerationMode.NEGATIVE, operation.label
    return statuses


async def test_schemathesis_finds_no_5xx_and_every_answer_is_documented(
    gateways: Gateways, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    gw = await gateways.start(tmp_path / "ledger.db")
    api = await Api.connect(http, gw.url)
    accounts = [a for a in await api.accounts() if a["status"] == "ACTIVE"]
    known = _Known(
        [a["user_id"] for a in accounts],
        [m["merchant_id"] for m in await api.merchants() if m["accepts_credit"]],
    )
    # One captured payment that only refunds use, so refunds reach the ledger whatever the
    # order of the operations (the reverse operation may have reversed every other one).
    rich = max(accounts, key=lambda a: min(a["available_credit"], a["txn_limit"]))
    paid = await api.pay(
        "fuzz-seed-payment",
        {
            "user_id": rich["user_id"],
            "merchant_id": known.shops[0],
            "amount": 50_000,
            "currency": "CNY",
        },
    )
    assert paid.status == 200, paid.body
    known.refundable.append(paid.json()["payment_id"])

    statuses = await asyncio.to_thread(_fuzz, gw.url, known)

    assert max(status for _, status in statuses) < 500, statuses
    operations = {label for label, _ in statuses}
    documented = {
        f"{method.upper()} {path}"
        for path, ops in api.contract.doc["paths"].items()
        for method in ops
        if path != "/openapi.json"  # schemathesis leaves the document itself out
    }
    assert operations == documented
    # The fuzzing got past validation into the ledger and the chaos API, and was refused too.
    for label, status in [
        ("POST /v1/payments", 200),
        ("POST /v1/payments", 400),
        ("POST /v1/payments/{payment_id}/refunds", 200),
        ("POST /v1/payments/{payment_id}/reverse", 200),
        ("GET /v1/accounts/{user_id}", 200),
        ("POST /_chaos/faults", 201),
        ("POST /_chaos/faults", 400),
        ("GET /_admin/audit", 401),
    ]:
        assert statuses[(label, status)] > 0, (label, status, statuses)
    audit = await api.audit()
    assert audit["ok"] is True, audit
    assert (await api.get("/_chaos/faults", headers=_auth())).json()["faults"] == []
    assert not [line for line in gw.stderr if "Traceback" in line or "unexpected" in line]

"""The OpenAPI 3.1 document of the gateway, generated from what it enforces: the paths from the
route table, the body schemas from the Structs requests are decoded with (the fault spec from
the kinds' own, in openapi_faults), the error answers from the catalogue.

Each operation declares the codes it answers by itself, by status, and on the payment routes
the ones an `error` fault may inject too; links lead from the answers that name a payment, a
refund's payment or a fault to the operations that take its id, for stateful testing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import msgspec

from contract import bodies, routes
from contract.bodies import MAX_ID_LEN
from contract.codes import CATALOGUE
from contract.routes import Route
from mock_gateway.openapi_faults import fault_schemas
from mock_gateway.requests import IDEMPOTENCY_HEADER, MAX_KEY_LEN

Schema = dict[str, Any]
REF = "#/components/schemas/{name}"


def _ref(name: str) -> Schema:
    return {"$ref": REF.format(name=name)}


def _json_content(schema: Schema) -> Schema:
    return {"application/json": {"schema": schema}}


_IDEMPOTENCY_KEY = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": True,
    "description": "Same key and body replays the stored response; a different body is 422.",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LEN,
        # Printable ASCII; HTTP drops spaces at either end, so the key cannot have them.
        "pattern": "^[\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?$",
    },
}
_KEY_PREFIX = {
    "name": "key_prefix",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "maxLength": MAX_KEY_LEN},
}
# No id the gateway hands out or takes in a body is longer: a longer one is simply not found.
_PATH_ID = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LEN}

# Any route may refuse a request over the size limits (contract.limits) before reading it,
# and any may fail unexpectedly.
_EDGE = ("PAYLOAD_TOO_LARGE", "URI_TOO_LONG", "HEADERS_TOO_LARGE", "INTERNAL_ERROR")
_ADMIN = ("INVALID_REQUEST", "METHOD_NOT_ALLOWED", *_EDGE)
# Every payment route: shed by admission control (503), looked up and not found.
_V1 = ("METHOD_NOT_ALLOWED", "NOT_FOUND", "SYSTEM_BUSY", *_EDGE)
# The error fault may answer any catalogue error on a payment route; the bearer token guards
# only the admin and chaos routes.
INJECTABLE = tuple(
    code for code, spec in CATALOGUE.items() if spec.http_status >= 400 and code != "UNAUTHORIZED"
)


# -- the error body ----------------------------------------------------------------------------


def _error_schema() -> Schema:
    """contract.codes.error_body's shape, its codes the catalogue's."""
    text = {"type": "string"}
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "message_zh", "action", "retryable", "request_id"],
                "properties": {
                    "code": {"enum": sorted(CATALOGUE)},
                    **dict.fromkeys(("message", "message_zh", "action"), text),
                    "retryable": {"type": "boolean"},
                    "request_id": text,
                    "payment_id": text,
                    "fields": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["field", "reason"],
                            "properties": {"field": text, "reason": text},
                        },
                    },
                },
            },
        },
    }


def _errors(own: tuple[str, ...], injected: tuple[str, ...]) -> dict[str, Any]:
    """Responses for catalogue codes, by HTTP status: the operation's own codes, then those
    only a fault makes it send (the `error` kind can inject any); the body's code is one of
    that status's."""
    by_status: dict[int, tuple[list[str], list[str]]] = {}
    for code in dict.fromkeys((*own, *injected)):
        mine, faults = by_status.setdefault(CATALOGUE[code].http_status, ([], []))
        (mine if code in own else faults).append(code)
    answers = {}
    for status, (mine, faults) in sorted(by_status.items()):
        said = ", ".join(mine)
        if faults:
            said += ("; " if said else "") + "only under a fault: " + ", ".join(faults)
        codes = {"properties": {"error": {"properties": {"code": {"enum": mine + faults}}}}}
        schema = {"allOf": [_ref("Error"), codes]}
        answers[str(status)] = {"description": said, "content": _json_content(schema)}
    return answers


# -- the operations ----------------------------------------------------------------------------


def _link(operation_id: str, parameter: str, pointer: str) -> Schema:
    return {"operationId": operation_id, "parameters": {parameter: f"$response.body#{pointer}"}}


def _payment_links(pointer: str, *, people: bool = False) -> Schema:
    """From an answer that names a payment to what can be done with it (and, from a payment
    itself, to its payer's account and its merchant)."""
    links = {
        op: _link(op, "payment_id", pointer)
        for op in ("getPayment", "reversePayment", "refundPayment")
    }
    if people:
        base = pointer.removesuffix("payment_id")
        links["getAccount"] = _link("getAccount", "user_id", base + "user_id")
        links["getMerchant"] = _link("getMerchant", "merchant_id", base + "merchant_id")
    return links


@dataclass(frozen=True)
class Operation:
    operation_id: str
    description: str  # of the success answer
    answer: Schema  # its schema
    errors: tuple[str, ...]  # catalogue codes it answers by itself (UNAUTHORIZED is added)
    status: int = 200
    summary: str | None = None
    body: str | None = None  # the request body's schema name
    parameters: tuple[Schema, ...] = ()  # beside the path's own
    media: str = "application/json"
    links: dict[int, Schema] = field(default_factory=dict)  # by status


_TEXT = {"type": "string"}
_DECLINED = _payment_links("/error/payment_id")  # a decline is recorded: its id comes back
OPERATIONS: dict[Route, Operation] = {
    routes.PAY: Operation(
        "createPayment",
        "succeeded (or the stored response, replayed)",
        _ref("Payment"),
        (
            *("PAYMENT_PENDING", "INVALID_REQUEST", "INSUFFICIENT_CREDIT", "TXN_LIMIT_EXCEEDED"),
            *("RISK_DECLINED", "ACCOUNT_FROZEN", "MERCHANT_NOT_SUPPORTED"),
            *("IDEMPOTENCY_IN_PROGRESS", "IDEMPOTENCY_MISMATCH", "CHANNEL_UNAVAILABLE"),
            *("CHANNEL_TIMEOUT", "DB_TIMEOUT", *_V1),
        ),
        summary="Pay from credit",
        body="PaymentRequest",
        parameters=(_IDEMPOTENCY_KEY,),
        links={
            200: _payment_links("/payment_id", people=True),
            202: _payment_links("/error/payment_id"),
            402: _DECLINED,
            403: _DECLINED,
        },
    ),
    routes.QUERY: Operation("getPayment", "the payment", _ref("Payment"), _V1),
    routes.REVERSE: Operation(
        "reversePayment",
        "the payment",
        _ref("Payment"),
        ("IDEMPOTENCY_IN_PROGRESS", "DB_TIMEOUT", *_V1),
        summary="Cancel a PENDING, SUCCEEDED or PARTIALLY_REFUNDED payment and release what it "
        "still holds; idempotent: a payment with nothing left to release (REVERSED, FAILED, "
        "REFUNDED) is returned unchanged",
        links={200: _payment_links("/payment_id")},
    ),
    routes.REFUND: Operation(
        "refundPayment",
        "the refund, with the updated payment",
        _ref("Refund"),
        (
            *("INVALID_REQUEST", "IDEMPOTENCY_IN_PROGRESS", "PAYMENT_NOT_REFUNDABLE"),
            *("REFUND_EXCEEDS_PAYMENT", "IDEMPOTENCY_MISMATCH", "DB_TIMEOUT", *_V1),
        ),
        summary="Refund part or all of a SUCCEEDED or PARTIALLY_REFUNDED payment; any other "
        "state, or more than is left, is a conflict (409)",
        body="RefundRequest",
        parameters=(_IDEMPOTENCY_KEY,),
        links={200: _payment_links("/payment_id")},
    ),
    routes.ACCOUNT: Operation("getAccount", "the account", _ref("Account"), _V1),
    routes.MERCHANT: Operation("getMerchant", "the merchant", _ref("Merchant"), _V1),
    routes.HEALTHZ: Operation("healthz", "serving", _ref("Health"), _EDGE),
    routes.METRICS: Operation(
        "metrics", "Prometheus text exposition", _TEXT, _EDGE, media="text/plain"
    ),
    routes.OPENAPI: Operation("openapi", "this document", {"type": "object"}, _EDGE),
    routes.AUDIT: Operation("audit", "the ledger invariants", _ref("Audit"), _ADMIN),
    routes.EXPORT: Operation(
        "exportPayments",
        "one JSON object per line",
        _TEXT,
        _ADMIN,
        summary="The ledger's payments as JSON lines, for cross-checking clients",
        parameters=(_KEY_PREFIX,),
        media="application/x-ndjson",
    ),
    routes.FAULTS: Operation("listFaults", "every fault and its state", _ref("FaultList"), _ADMIN),
    routes.ADD_FAULT: Operation(
        "addFault",
        "the fault, scheduled",
        _ref("Fault"),
        _ADMIN,
        status=201,
        body="FaultSpec",
        links={201: {"removeFault": _link("removeFault", "fault_id", "/id")}},
    ),
    routes.CLEAR_FAULTS: Operation("clearFaults", "how many were removed", _ref("Removed"), _ADMIN),
    routes.DELETE_FAULT: Operation(
        "removeFault", "the fault removed", _ref("Fault"), (*_ADMIN, "NOT_FOUND")
    ),
    routes.EVENTS: Operation("faultEvents", "the applied fault windows", _ref("Events"), _ADMIN),
}


def _operation(route: Route, op: Operation) -> Schema:
    guarded = route.path.startswith(routes.PROTECTED_PREFIXES)
    path_params = [
        {"name": name, "in": "path", "required": True, "schema": _PATH_ID}
        for name in re.findall(r"\{(\w+)\}", route.path)
    ]
    ok: Schema = {"description": op.description, "content": {op.media: {"schema": op.answer}}}
    own = (*op.errors, *(("UNAUTHORIZED",) * guarded))
    injected = INJECTABLE if route in routes.PAYMENT_ROUTES else ()
    responses = {str(op.status): ok, **_errors(own, injected)}
    for status, links in op.links.items():
        responses[str(status)] = {**responses[str(status)], "links": links}
    built: Schema = {"operationId": op.operation_id}
    if op.summary:
        built["summary"] = op.summary
    if guarded:
        built["security"] = [{"bearer": []}]
    if path_params or op.parameters:
        built["parameters"] = [*path_params, *op.parameters]
    if op.body:
        built["requestBody"] = {"required": True, "content": _json_content(_ref(op.body))}
    built["responses"] = responses
    return built


def schemas() -> dict[str, Schema]:
    """Every component schema: the bodies' Structs, the error body, the fault specs."""
    _, generated = msgspec.json.schema_components(
        (*bodies.REQUESTS, *bodies.ANSWERS), ref_template=REF
    )
    return {**generated, "Error": _error_schema(), **fault_schemas()}


@cache
def document() -> dict[str, Any]:
    paths: dict[str, Schema] = {}
    for route in routes.ALL_ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route, OPERATIONS[route]
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "paystorm mock credit-pay gateway",
            "version": "1",
            "description": "Amounts are integers in fen (100.0 counts as 100, as in JSON "
            "Schema). Every response has X-Request-Id. Every error body comes from one "
            "catalogue of codes.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }

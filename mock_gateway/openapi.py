"""The OpenAPI 3.1 document of the gateway, generated from what it enforces: the paths from the
route table, the body schemas from the Structs requests are decoded with, the error answers
from the catalogue."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import msgspec

from contract import bodies, routes
from contract.codes import CATALOGUE
from contract.routes import Route
from faults import REGISTRY, kind_schemas
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

# Any route may refuse a request over the size limits (mock_gateway.limits) before reading
# it, and any may fail unexpectedly.
_EDGE = ("PAYLOAD_TOO_LARGE", "URI_TOO_LONG", "HEADERS_TOO_LARGE", "INTERNAL_ERROR")
_ADMIN = ("INVALID_REQUEST", "METHOD_NOT_ALLOWED", *_EDGE)
# The error fault may answer any catalogue error on a payment route (and admission sheds
# with 503); the bearer token guards only the admin and chaos routes.
_V1 = tuple(
    code for code, spec in CATALOGUE.items() if spec.http_status >= 400 and code != "UNAUTHORIZED"
)


# -- the fault specs -------------------------------------------------------------------------

_TIME = {"type": ["string", "null"], "format": "date-time"}


def fault_params_schemas() -> tuple[Schema, dict[str, Schema]]:
    """How a fault spec's `params` depend on its `kind`, from the kinds' own params Structs
    (faults.kind_schemas): a `oneOf` with one branch per kind and the kinds' examples, to sit
    beside the spec's properties, and the components the branches refer to (with the
    target's, `FaultTarget`)."""
    kinds = kind_schemas(REF)
    components = dict(kinds.components)
    branches = [
        {"properties": {"kind": {"const": name}, "params": ref}}
        for name, ref in sorted(kinds.params.items())
    ]
    return {"oneOf": branches, "examples": list(kinds.examples.values())}, components


def _fault_schemas() -> dict[str, Schema]:
    by_kind, components = fault_params_schemas()
    # Inline, so that the spec's fields and the target's read at one level.
    target = components.pop("FaultTarget")
    return {
        **components,
        "FaultSpec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind"],
            "properties": {
                "kind": {"enum": sorted(REGISTRY)},
                "params": {"type": "object", "description": "per kind: see the oneOf"},
                "target": target,
                "start_in_s": {"type": "number", "minimum": 0},
                "duration_s": {"type": ["number", "null"], "exclusiveMinimum": 0},
                "seed": {"type": "integer"},
            },
            **by_kind,
        },
        "Fault": {
            "type": "object",
            "required": [
                *("id", "kind", "params", "target", "start_in_s", "duration_s", "seed"),
                *("state", "created_at", "started_at", "ended_at"),
            ],
            "properties": {
                "id": {"type": "string"},
                "kind": {"enum": sorted(REGISTRY)},
                "params": {"type": "object"},
                "target": {"type": "object"},
                "start_in_s": {"type": "number"},
                "duration_s": {"type": ["number", "null"]},
                "seed": {"type": "integer"},
                "state": {"enum": ["scheduled", "active", "expired"]},
                "created_at": {"type": "string", "format": "date-time"},
                "started_at": _TIME,
                "ended_at": _TIME,
            },
        },
        "FaultList": {
            "type": "object",
            "required": ["faults"],
            "properties": {"faults": {"type": "array", "items": _ref("Fault")}},
        },
        "Removed": {
            "type": "object",
            "required": ["removed"],
            "properties": {"removed": {"type": "integer"}},
        },
        "Events": {
            "type": "object",
            "required": ["events"],
            "properties": {
                "events": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "kind", "started_at", "ended_at"],
                        "properties": {
                            "id": {"type": "string"},
                            "kind": {"type": "string"},
                            "started_at": _TIME,
                            "ended_at": _TIME,
                            "started_unix": {"type": ["number", "null"]},
                            "ended_unix": {"type": ["number", "null"]},
                        },
                    },
                }
            },
        },
    }


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


def _errors(codes: tuple[str, ...]) -> dict[str, Any]:
    """Responses for these catalogue codes, grouped by HTTP status."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(CATALOGUE[code].http_status, []).append(code)
    return {
        str(status): {"description": ", ".join(names), "content": _json_content(_ref("Error"))}
        for status, names in sorted(by_status.items())
    }


# -- the operations ----------------------------------------------------------------------------


def _link(operation_id: str, parameter: str, pointer: str) -> Schema:
    return {"operationId": operation_id, "parameters": {parameter: f"$response.body#{pointer}"}}


def _payment_links(pointer: str) -> Schema:
    """From an answer that names a payment to what can be done with it."""
    return {
        op: _link(op, "payment_id", pointer)
        for op in ("getPayment", "reversePayment", "refundPayment")
    }


@dataclass(frozen=True)
class Operation:
    operation_id: str
    description: str  # of the success answer
    answer: Schema  # its schema
    errors: tuple[str, ...]  # catalogue codes it may answer with (UNAUTHORIZED is added)
    status: int = 200
    summary: str | None = None
    body: str | None = None  # the request body's schema name
    parameters: tuple[Schema, ...] = ()  # beside the path's own
    media: str = "application/json"
    links: dict[int, Schema] = field(default_factory=dict)  # by status


_TEXT = {"type": "string"}
OPERATIONS: dict[Route, Operation] = {
    routes.PAY: Operation(
        "createPayment",
        "succeeded (or the stored response, replayed)",
        _ref("Payment"),
        ("PAYMENT_PENDING", *_V1),
        summary="Pay from credit",
        body="PaymentRequest",
        parameters=(_IDEMPOTENCY_KEY,),
        links={200: _payment_links("/payment_id"), 202: _payment_links("/error/payment_id")},
    ),
    routes.QUERY: Operation("getPayment", "the payment", _ref("Payment"), _V1),
    routes.REVERSE: Operation(
        "reversePayment",
        "the payment",
        _ref("Payment"),
        _V1,
        summary="Cancel a PENDING or SUCCEEDED payment and release its credit; "
        "idempotent (other states are returned unchanged)",
    ),
    routes.REFUND: Operation(
        "refundPayment",
        "the refund, with the updated payment",
        _ref("Refund"),
        _V1,
        body="RefundRequest",
        parameters=(_IDEMPOTENCY_KEY,),
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
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", route.path)
    ]
    ok: Schema = {"description": op.description, "content": {op.media: {"schema": op.answer}}}
    responses = {str(op.status): ok, **_errors((*op.errors, *(("UNAUTHORIZED",) * guarded)))}
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
    return {**generated, "Error": _error_schema(), **_fault_schemas()}


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
            "description": "Amounts are integers in fen. Every response has X-Request-Id. "
            "Every error body comes from one catalogue of codes.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }

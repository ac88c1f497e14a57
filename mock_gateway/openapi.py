"""The OpenAPI 3.1 document of the gateway, built from the same catalogue and limits it enforces."""

from __future__ import annotations

from functools import cache
from typing import Any

from contract import routes
from contract.codes import CATALOGUE
from contract.profile import CHANNEL_NAMES
from contract.routes import ROUTE_NAMES
from faults import REGISTRY
from mock_gateway.requests import MAX_AMOUNT, MAX_ID_LEN, MAX_KEY_LEN, NETWORKS

PAYMENT_STATUSES = ["PENDING", "SUCCEEDED", "FAILED", "REVERSED", "REFUNDED", "PARTIALLY_REFUNDED"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _errors(*codes: str) -> dict[str, Any]:
    """Responses for these catalogue codes, grouped by HTTP status."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(CATALOGUE[code].http_status, []).append(code)
    return {
        str(status): {"description": ", ".join(names), "content": _json_content(_ref("Error"))}
        for status, names in sorted(by_status.items())
    }


_ID = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LEN}
_AMOUNT = {
    "type": "integer",
    "minimum": 1,
    "maximum": MAX_AMOUNT,
    "description": "fen (1 CNY = 100 fen)",
}
_NULLABLE_STR = {"type": ["string", "null"]}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
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
# Any route refuses a request over the size limits (mock_gateway.limits) before reading it.
_EDGE = ("PAYLOAD_TOO_LARGE", "URI_TOO_LONG", "HEADERS_TOO_LARGE")
_COMMON = ("INVALID_REQUEST", "METHOD_NOT_ALLOWED", "INTERNAL_ERROR", *_EDGE)
# On /v1 routes the error fault may inject any catalogue error, and admission sheds with 503.
_V1 = tuple(
    code for code, spec in CATALOGUE.items() if spec.http_status >= 400 and code != "UNAUTHORIZED"
)

_TARGET = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "route": {"enum": list(ROUTE_NAMES)},
        "channel": {"enum": list(CHANNEL_NAMES)},
        "merchant_id": {"type": "string"},
        "user_id": {"type": "string"},
        "probability": {"type": "number", "minimum": 0, "maximum": 1},
        "min_inflight": {"type": "integer", "minimum": 0},
    },
}
_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "FaultSpec": {
        "type": "object",
        "additionalProperties": False,
        "required": ["kind"],
        "properties": {
            "kind": {"enum": sorted(REGISTRY)},
            "params": {"type": "object", "description": "per kind: see the README's fault table"},
            "target": _TARGET,
            "start_in_s": {"type": "number", "minimum": 0},
            "duration_s": {"type": ["number", "null"], "exclusiveMinimum": 0},
            "seed": {"type": "integer"},
        },
    },
    "Fault": {
        "type": "object",
        "required": [
            "id",
            "kind",
            "params",
            "target",
            "start_in_s",
            "duration_s",
            "seed",
            "state",
            "created_at",
            "started_at",
            "ended_at",
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
        "properties": {
            "faults": {"type": "array", "items": {"$ref": "#/components/schemas/Fault"}}
        },
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
    "PaymentRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["user_id", "merchant_id", "amount", "currency"],
        "properties": {
            "user_id": {**_ID, "examples": ["u000001"]},
            "merchant_id": {**_ID, "examples": ["m00001"]},
            "amount": _AMOUNT,
            "currency": {"const": "CNY"},
            "order_id": _ID,
            "client": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "app_version": {"type": "string", "minLength": 1, "maxLength": 32},
                    "network": {"enum": list(NETWORKS)},
                },
            },
        },
    },
    "Payment": {
        "type": "object",
        "required": [
            "payment_id",
            "status",
            "amount",
            "currency",
            "refunded",
            "user_id",
            "merchant_id",
            "order_id",
            "channel",
            "code",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "payment_id": {"type": "string"},
            "status": {"enum": PAYMENT_STATUSES},
            "amount": {"type": "integer"},
            "currency": {"const": "CNY"},
            "refunded": {"type": "integer", "minimum": 0},
            "user_id": {"type": "string"},
            "merchant_id": {"type": "string"},
            "order_id": _NULLABLE_STR,
            "channel": _NULLABLE_STR,
            "code": {"type": ["string", "null"], "description": "failure code, if any"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "RefundRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["amount"],
        "properties": {"amount": _AMOUNT},
    },
    "Refund": {
        "type": "object",
        "required": ["refund_id", "payment_id", "amount", "created_at", "payment"],
        "properties": {
            "refund_id": {"type": "string"},
            "payment_id": {"type": "string"},
            "amount": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "payment": _ref("Payment"),
        },
    },
    "Account": {
        "type": "object",
        "required": ["user_id", "credit_limit", "available_credit", "txn_limit", "status"],
        "properties": {
            "user_id": {"type": "string"},
            "credit_limit": {"type": "integer"},
            "available_credit": {"type": "integer"},
            "txn_limit": {"type": "integer"},
            "status": {"enum": ["ACTIVE", "FROZEN"]},
        },
    },
    "Merchant": {
        "type": "object",
        "required": ["merchant_id", "name", "accepts_credit"],
        "properties": {
            "merchant_id": {"type": "string"},
            "name": {"type": "string"},
            "accepts_credit": {"type": "boolean"},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "message_zh", "action", "retryable", "request_id"],
                "properties": {
                    "code": {"enum": sorted(CATALOGUE)},
                    "message": {"type": "string"},
                    "message_zh": {"type": "string"},
                    "action": {"type": "string"},
                    "retryable": {"type": "boolean"},
                    "request_id": {"type": "string"},
                    "payment_id": {"type": "string"},
                    "fields": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["field", "reason"],
                            "properties": {
                                "field": {"type": "string"},
                                "reason": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "uptime_s", "seed", "accounts", "merchants"],
        "properties": {
            "status": {"const": "ok"},
            "uptime_s": {"type": "number"},
            "seed": {"type": "integer"},
            "accounts": {"type": "integer", "description": "seeded users u000001 …"},
            "merchants": {"type": "integer", "description": "seeded merchants m00001 …"},
        },
    },
    "Audit": {
        "type": "object",
        "required": ["ok", "checks", "pending"],
        "properties": {
            "ok": {"type": "boolean"},
            "pending": {"type": "integer"},
            "checks": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["ok", "detail"],
                    "properties": {"ok": {"type": "boolean"}, "detail": {}},
                },
            },
        },
    },
}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": _json_content(schema)}


@cache
def document() -> dict[str, Any]:
    payment_id = _path_param("payment_id")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "paystorm mock credit-pay gateway",
            "version": "1",
            "description": "Amounts are integers in fen. Every response has X-Request-Id. "
            "Every error body comes from one catalogue of codes.",
        },
        "paths": {
            routes.PAY.path: {
                "post": {
                    "operationId": "createPayment",
                    "summary": "Pay from credit",
                    "parameters": [_IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": True,
                        "content": _json_content(_ref("PaymentRequest")),
                    },
                    "responses": {
                        "200": _ok("succeeded (or the stored response, replayed)", _ref("Payment")),
                        "202": _ok("PAYMENT_PENDING: outcome not yet known", _ref("Error")),
                        **_errors(*_V1),
                    },
                }
            },
            routes.QUERY.path: {
                "get": {
                    "operationId": "getPayment",
                    "parameters": [payment_id],
                    "responses": {
                        "200": _ok("the payment", _ref("Payment")),
                        **_errors(*_V1),
                    },
                }
            },
            routes.REVERSE.path: {
                "post": {
                    "operationId": "reversePayment",
                    "summary": "Cancel a PENDING or SUCCEEDED payment and release its credit; "
                    "idempotent (other states are returned unchanged)",
                    "parameters": [payment_id],
                    "responses": {
                        "200": _ok("the payment", _ref("Payment")),
                        **_errors(*_V1),
                    },
                }
            },
            routes.REFUND.path: {
                "post": {
                    "operationId": "refundPayment",
                    "parameters": [payment_id, _IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": True,
                        "content": _json_content(_ref("RefundRequest")),
                    },
                    "responses": {
                        "200": _ok("the refund, with the updated payment", _ref("Refund")),
                        **_errors(*_V1),
                    },
                }
            },
            routes.ACCOUNT.path: {
                "get": {
                    "operationId": "getAccount",
                    "parameters": [_path_param("user_id")],
                    "responses": {
                        "200": _ok("the account", _ref("Account")),
                        **_errors(*_V1),
                    },
                }
            },
            routes.MERCHANT.path: {
                "get": {
                    "operationId": "getMerchant",
                    "parameters": [_path_param("merchant_id")],
                    "responses": {
                        "200": _ok("the merchant", _ref("Merchant")),
                        **_errors(*_V1),
                    },
                }
            },
            routes.HEALTHZ.path: {
                "get": {
                    "operationId": "healthz",
                    "responses": {"200": _ok("serving", _ref("Health")), **_errors(*_EDGE)},
                }
            },
            routes.METRICS.path: {
                "get": {
                    "operationId": "metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **_errors(*_EDGE),
                    },
                }
            },
            routes.OPENAPI.path: {
                "get": {
                    "operationId": "openapi",
                    "responses": {
                        "200": _ok("this document", {"type": "object"}),
                        **_errors(*_EDGE),
                    },
                }
            },
            routes.FAULTS.path: {
                "get": {
                    "operationId": "listFaults",
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": _ok("every fault and its state", _ref("FaultList")),
                        **_errors(*_COMMON, "UNAUTHORIZED"),
                    },
                },
                "post": {
                    "operationId": "addFault",
                    "security": [{"bearer": []}],
                    "requestBody": {"required": True, "content": _json_content(_ref("FaultSpec"))},
                    "responses": {
                        "201": _ok("the fault, scheduled", _ref("Fault")),
                        **_errors(*_COMMON, "UNAUTHORIZED"),
                    },
                },
                "delete": {
                    "operationId": "clearFaults",
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": _ok(
                            "how many were removed",
                            {
                                "type": "object",
                                "required": ["removed"],
                                "properties": {"removed": {"type": "integer"}},
                            },
                        ),
                        **_errors(*_COMMON, "UNAUTHORIZED"),
                    },
                },
            },
            routes.DELETE_FAULT.path: {
                "delete": {
                    "operationId": "removeFault",
                    "security": [{"bearer": []}],
                    "parameters": [_path_param("fault_id")],
                    "responses": {
                        "200": _ok("the fault removed", _ref("Fault")),
                        **_errors(*_COMMON, "UNAUTHORIZED", "NOT_FOUND"),
                    },
                }
            },
            routes.EVENTS.path: {
                "get": {
                    "operationId": "faultEvents",
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": _ok("the applied fault windows", _ref("Events")),
                        **_errors(*_COMMON, "UNAUTHORIZED"),
                    },
                }
            },
            routes.EXPORT.path: {
                "get": {
                    "operationId": "exportPayments",
                    "summary": "The ledger's payments as JSON lines, for cross-checking clients",
                    "security": [{"bearer": []}],
                    "parameters": [
                        {
                            "name": "key_prefix",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "maxLength": MAX_KEY_LEN},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "one JSON object per line",
                            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                        },
                        **_errors(*_COMMON, "UNAUTHORIZED"),
                    },
                }
            },
            routes.AUDIT.path: {
                "get": {
                    "operationId": "audit",
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": _ok("the ledger invariants", _ref("Audit")),
                        **_errors(*_COMMON, "UNAUTHORIZED"),
                    },
                }
            },
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }

"""Parsing request input at the edge into typed specs; every problem names its field."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from contract.codes import FieldError, GatewayError

MAX_AMOUNT = 50_000_000  # fen: 500,000 CNY
MAX_KEY_LEN = 64
MAX_ID_LEN = 64
NETWORKS = ("wifi", "5g", "4g", "3g", "2g", "weak", "unknown")
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True, slots=True)
class ClientInfo:
    app_version: str | None
    network: str | None


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    user_id: str
    merchant_id: str
    amount: int
    currency: str
    order_id: str | None
    client: ClientInfo | None
    fingerprint: bytes


@dataclass(frozen=True, slots=True)
class RefundRequest:
    amount: int
    fingerprint: bytes


class _Problems:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, field: str, reason: str) -> None:
        self.items.append(FieldError(field, reason))

    def raise_if_any(self) -> None:
        if self.items:
            raise GatewayError("INVALID_REQUEST", fields=tuple(self.items))


def idempotency_key(headers: Any, problems: _Problems) -> str:
    key = headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        problems.add(IDEMPOTENCY_HEADER, f"required header, 1-{MAX_KEY_LEN} printable characters")
    elif not 1 <= len(key) <= MAX_KEY_LEN:
        problems.add(IDEMPOTENCY_HEADER, f"must be 1-{MAX_KEY_LEN} characters, got {len(key)}")
    elif not key.isprintable() or not key.isascii():
        problems.add(IDEMPOTENCY_HEADER, "must be printable ASCII")
    return key or ""


def _json_object(raw: bytes, problems: _Problems) -> dict[str, Any] | None:
    if not raw:
        problems.add("body", "required: a JSON object")
        return None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        problems.add("body", f"not valid JSON ({exc.msg})")
        return None
    if not isinstance(body, dict):
        problems.add("body", f"expected a JSON object, got {type(body).__name__}")
        return None
    return body


def _unknown_fields(
    body: dict[str, Any], allowed: tuple[str, ...], problems: _Problems, prefix: str = ""
) -> None:
    for name in body:
        if name not in allowed:
            problems.add(f"{prefix}{name}", f"unknown field; allowed: {', '.join(allowed)}")


def _amount(value: Any, field: str, problems: _Problems, *, required: bool = True) -> int:
    if value is None:
        if required:
            problems.add(field, f"required: an integer number of fen, 1..{MAX_AMOUNT}")
        return 0
    if isinstance(value, float) and value.is_integer() and not 1 <= value <= MAX_AMOUNT:
        # orjson reads integers beyond 64 bits as floats: say what is wrong with them.
        problems.add(field, f"must be between 1 and {MAX_AMOUNT} fen, got {value:.0f}")
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        # 100.0 is refused too: money in fen is never written with a decimal point.
        kind = f"the number {value!r}" if isinstance(value, float) else type(value).__name__
        problems.add(field, f"expected an integer number of fen, got {kind}")
        return 0
    if not 1 <= value <= MAX_AMOUNT:
        problems.add(field, f"must be between 1 and {MAX_AMOUNT} fen, got {value}")
        return 0
    return value


def _string(
    value: Any, field: str, problems: _Problems, *, required: bool, max_len: int = MAX_ID_LEN
) -> str | None:
    if value is None:
        if required:
            problems.add(field, f"required: a string of 1-{max_len} characters")
        return None
    if not isinstance(value, str):
        problems.add(field, f"expected a string, got {type(value).__name__}")
        return None
    if not 1 <= len(value) <= max_len:
        problems.add(field, f"must be 1-{max_len} characters, got {len(value)}")
        return None
    return value


def _fingerprint(body: dict[str, Any]) -> bytes:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).digest()


_PAYMENT_FIELDS = ("user_id", "merchant_id", "amount", "currency", "order_id", "client")
_CLIENT_FIELDS = ("app_version", "network")


def parse_payment(headers: Any, raw: bytes) -> tuple[str, PaymentRequest]:
    """The idempotency key and the payment; raises INVALID_REQUEST listing every bad field."""
    problems = _Problems()
    key = idempotency_key(headers, problems)
    body = _json_object(raw, problems)
    if body is None:
        problems.raise_if_any()
        raise AssertionError("unreachable")
    _unknown_fields(body, _PAYMENT_FIELDS, problems)
    user_id = _string(body.get("user_id"), "user_id", problems, required=True)
    merchant_id = _string(body.get("merchant_id"), "merchant_id", problems, required=True)
    amount = _amount(body.get("amount"), "amount", problems)
    currency = body.get("currency")
    if currency != "CNY":
        problems.add("currency", f'required: "CNY", got {orjson.dumps(currency).decode()}')
    order_id = _string(body.get("order_id"), "order_id", problems, required=False)
    client = _client(body.get("client"), problems)
    problems.raise_if_any()
    assert user_id is not None and merchant_id is not None
    return key, PaymentRequest(
        user_id, merchant_id, amount, "CNY", order_id, client, _fingerprint(body)
    )


def _client(value: Any, problems: _Problems) -> ClientInfo | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.add("client", f"expected an object, got {type(value).__name__}")
        return None
    _unknown_fields(value, _CLIENT_FIELDS, problems, prefix="client.")
    version = _string(
        value.get("app_version"), "client.app_version", problems, required=False, max_len=32
    )
    network = value.get("network")
    if network is not None and network not in NETWORKS:
        problems.add("client.network", f"expected one of {', '.join(NETWORKS)}")
        network = None
    return ClientInfo(version, network)


def parse_refund(headers: Any, raw: bytes, payment_id: str) -> tuple[str, RefundRequest]:
    problems = _Problems()
    key = idempotency_key(headers, problems)
    body = _json_object(raw, problems)
    if body is None:
        problems.raise_if_any()
        raise AssertionError("unreachable")
    _unknown_fields(body, ("amount",), problems)
    amount = _amount(body.get("amount"), "amount", problems)
    problems.raise_if_any()
    return key, RefundRequest(amount, _fingerprint({"payment_id": payment_id, **body}))

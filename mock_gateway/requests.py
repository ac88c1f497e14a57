"""Request input at the edge, as typed values: a body is decoded against its Struct
(contract.bodies) in one pass, the Idempotency-Key header is checked here; a refusal lists
every bad field."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from contract import bodies
from contract.codes import FieldError, GatewayError
from contract.problems import every_problem
from contract.validate import InputError, decode_json, whole_numbers

MAX_KEY_LEN = 64
IDEMPOTENCY_HEADER = "Idempotency-Key"

Body = TypeVar("Body", bound=msgspec.Struct)


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """A payment as the service takes it: the body's fields and its fingerprint."""

    user_id: str
    merchant_id: str
    amount: int
    currency: str
    order_id: str | None
    client: bodies.ClientInfo | None
    fingerprint: bytes


@dataclass(frozen=True, slots=True)
class RefundRequest:
    amount: int
    fingerprint: bytes


def idempotency_key(headers: Any, problems: list[FieldError]) -> str:
    key = headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        problems.append(
            FieldError(IDEMPOTENCY_HEADER, f"required header, 1-{MAX_KEY_LEN} printable characters")
        )
    elif not 1 <= len(key) <= MAX_KEY_LEN:
        problems.append(
            FieldError(IDEMPOTENCY_HEADER, f"must be 1-{MAX_KEY_LEN} characters, got {len(key)}")
        )
    elif not key.isprintable() or not key.isascii():
        problems.append(FieldError(IDEMPOTENCY_HEADER, "must be printable ASCII"))
    return key or ""


def _decode(raw: bytes, kind: type[Body], problems: list[FieldError]) -> Body | None:
    try:
        return decode_json(raw, kind)
    except InputError as exc:
        problems += [
            FieldError(p.field or "body", p.reason) for p in _every_problem(raw, kind, exc)
        ]
        return None


def _every_problem(raw: bytes, kind: type[Body], first: InputError) -> list[InputError]:
    """Past the first: each bad field, so that one answer says all there is to fix."""
    if not raw.strip():
        return [InputError("", "expected a JSON object (required)")]
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return [first]  # not JSON: decode_json said where
    return every_problem(whole_numbers(value), kind) or [first]


def _invalid(problems: list[FieldError]) -> GatewayError:
    return GatewayError("INVALID_REQUEST", fields=tuple(problems))


def _fingerprint(canonical: bytes) -> bytes:
    return hashlib.sha256(canonical).digest()


def parse_payment(headers: Any, raw: bytes) -> tuple[str, PaymentRequest]:
    """The idempotency key and the payment; raises INVALID_REQUEST listing every bad field."""
    problems: list[FieldError] = []
    key = idempotency_key(headers, problems)
    body = _decode(raw, bodies.PaymentRequest, problems)
    if body is None or problems:
        raise _invalid(problems)
    # The body as sorted, compact JSON: the same request however it was laid out (key order,
    # spacing, a null where the field could be left out) has the same fingerprint.
    canonical = msgspec.json.encode(body, order="sorted")
    return key, PaymentRequest(
        body.user_id,
        body.merchant_id,
        body.amount,
        body.currency,
        body.order_id,
        body.client,
        _fingerprint(canonical),
    )


def parse_refund(headers: Any, raw: bytes, payment_id: str) -> tuple[str, RefundRequest]:
    problems: list[FieldError] = []
    key = idempotency_key(headers, problems)
    body = _decode(raw, bodies.RefundRequest, problems)
    if body is None or problems:
        raise _invalid(problems)
    canonical = msgspec.json.encode({"amount": body.amount, "payment_id": payment_id})
    return key, RefundRequest(body.amount, _fingerprint(canonical))

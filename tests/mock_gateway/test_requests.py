"""Request bodies decoded against their Structs: a refusal names each bad field, what it
expected and what it got; a valid body's fingerprint ignores layout but not content."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson
import pytest

from contract.codes import GatewayError
from mock_gateway.requests import parse_payment, parse_refund

KEY = {"Idempotency-Key": "k-1"}
VALID = {"user_id": "u000001", "merchant_id": "m00001", "amount": 1999, "currency": "CNY"}
FIELDS = "user_id, merchant_id, amount, currency, order_id, client"


def _refusal(body: Any, headers: dict[str, str] = KEY) -> list[tuple[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(GatewayError) as info:
        parse_payment(headers, raw)
    assert info.value.code == "INVALID_REQUEST"
    return [(f.field, f.reason) for f in info.value.fields]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({**VALID, "amount": 0}, "amount", "expected a whole number >= 1, got 0"),
        ({**VALID, "amount": -5}, "amount", "expected a whole number >= 1, got -5"),
        (
            {**VALID, "amount": 50_000_001},
            "amount",
            "expected a whole number <= 50000000, got 50000001",
        ),
        ({**VALID, "amount": 100.5}, "amount", "expected a whole number, got 100.5"),
        (
            {**VALID, "amount": 1e10},
            "amount",
            "expected a whole number <= 50000000, got 10000000000",
        ),
        ({**VALID, "amount": True}, "amount", "expected a whole number, got true"),
        ({**VALID, "amount": "100"}, "amount", "expected a whole number, got '100'"),
        ({**VALID, "amount": None}, "amount", "expected a whole number, got null"),
        ({**VALID, "currency": "USD"}, "currency", "expected one of CNY, got 'USD'"),
        ({**VALID, "user_id": 7}, "user_id", "expected a string, got 7"),
        ({**VALID, "user_id": ""}, "user_id", "expected a string of length >= 1, got ''"),
        ({**VALID, "tip": 5}, "tip", f"expected one of the known fields ({FIELDS})"),
        (
            {k: v for k, v in VALID.items() if k != "amount"},
            "amount",
            "expected a whole number from 1 to 50000000 (required)",
        ),
        (
            {k: v for k, v in VALID.items() if k != "user_id"},
            "user_id",
            "expected a string of 1 to 64 characters (required)",
        ),
        (
            {**VALID, "client": {"network": "pigeon"}},
            "client.network",
            "expected one of 2g, 3g, 4g, 5g, unknown, weak, wifi, got 'pigeon'",
        ),
        (
            {**VALID, "client": {"os": "ios"}},
            "client.os",
            "expected one of the known fields (app_version, network)",
        ),
        (b"", "body", "expected a JSON object (required)"),
        (b"[]", "body", "expected an object, got a list"),
        (b'{"user_id": ', "body", "expected a JSON object (Input data was truncated)"),
        (b'{"user_id": "\xff"}', "body", "expected a JSON object (Invalid UTF-8 encoded string)"),
    ],
)
def test_a_refusal_names_the_field_what_it_expected_and_what_it_got(
    body: Any, field: str, reason: str
) -> None:
    assert _refusal(body) == [(field, reason)]


def test_a_whole_number_with_a_zero_fraction_is_that_number() -> None:
    """JSON Schema, and so the OpenAPI document, counts 100.0 as the integer 100: the
    gateway does too, and it is the same payment as 100 (same fingerprint)."""
    assert _fingerprint({**VALID, "amount": 1999.0}) == _fingerprint(VALID)
    assert parse_payment(KEY, json.dumps({**VALID, "amount": 1999.0}).encode())[1].amount == 1999
    refund = parse_refund(KEY, b'{"amount": 5e2}', "pay_1")[1]
    assert (refund.amount, refund.fingerprint) == (
        500,
        parse_refund(KEY, b'{"amount": 500}', "pay_1")[1].fingerprint,
    )
    # Beside another bad field, it is not named as a problem.
    assert _refusal({**VALID, "amount": 100.0, "currency": "USD"}) == [
        ("currency", "expected one of CNY, got 'USD'")
    ]


def test_a_client_that_is_not_an_object_is_refused() -> None:
    # Whether the reason also names null (the field may be left out) is the validator's call.
    ((field, reason),) = _refusal({**VALID, "client": "iphone"})
    assert field == "client"
    assert reason.startswith("expected an object") and reason.endswith(", got 'iphone'")


def test_every_bad_field_is_listed_header_first() -> None:
    bad = {"user_id": 1, "merchant_id": "", "amount": 0, "currency": "usd", "extra": True}
    assert _refusal(bad, headers={}) == [
        ("Idempotency-Key", "required header, 1-64 printable characters"),
        ("user_id", "expected a string, got 1"),
        ("merchant_id", "expected a string of length >= 1, got ''"),
        ("amount", "expected a whole number >= 1, got 0"),
        ("currency", "expected one of CNY, got 'usd'"),
        ("extra", f"expected one of the known fields ({FIELDS})"),
    ]
    nested = {**VALID, "client": {"network": "x", "app_version": ""}}
    assert [f for f, _ in _refusal(nested)] == ["client.network", "client.app_version"]


def test_a_long_refused_value_is_quoted_cut_short() -> None:
    ((field, reason),) = _refusal({**VALID, "order_id": "o" * 60_000})
    assert field == "order_id"
    assert reason.startswith("expected a string of length <= 64, got 'ooo")
    assert reason.endswith("...") and len(reason) < 100


def test_a_good_key_with_a_bad_body_names_only_the_body() -> None:
    assert [f for f, _ in _refusal({**VALID, "amount": 0})] == ["amount"]
    with pytest.raises(GatewayError) as info:
        parse_payment({}, json.dumps(VALID).encode())
    assert [f.field for f in info.value.fields] == ["Idempotency-Key"]


def test_a_valid_payment_reads_as_sent() -> None:
    body = {**VALID, "order_id": "A-1", "client": {"app_version": "9.1.0", "network": "weak"}}
    key, req = parse_payment(KEY, json.dumps(body).encode())
    assert key == "k-1"
    assert (req.user_id, req.merchant_id, req.amount, req.currency, req.order_id) == (
        "u000001",
        "m00001",
        1999,
        "CNY",
        "A-1",
    )
    assert req.client is not None and req.client.network == "weak"
    assert req.client.app_version == "9.1.0"


def _fingerprint(body: dict[str, Any]) -> bytes:
    return parse_payment(KEY, json.dumps(body).encode())[1].fingerprint


def test_the_fingerprint_is_the_sorted_body_as_ledgers_already_hold_it() -> None:
    body = {**VALID, "order_id": "A-1", "client": {"network": "4g", "app_version": "9"}}
    stored = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).digest()
    assert _fingerprint(body) == stored
    refund = parse_refund(KEY, b'{"amount": 500}', "pay_1")[1]
    assert refund.amount == 500
    assert refund.fingerprint == hashlib.sha256(b'{"amount":500,"payment_id":"pay_1"}').digest()


def test_the_fingerprint_ignores_layout_and_sees_content() -> None:
    laid_out = (
        b'{ "currency": "CNY",\n "amount": 1999, "merchant_id": "m00001", "user_id": "u000001" }'
    )
    assert parse_payment(KEY, laid_out)[1].fingerprint == _fingerprint(VALID)
    assert _fingerprint({**VALID, "order_id": None, "client": None}) == _fingerprint(VALID)
    assert _fingerprint({**VALID, "amount": 2000}) != _fingerprint(VALID)
    assert _fingerprint({**VALID, "order_id": "A-2"}) != _fingerprint(VALID)
    one = parse_refund(KEY, b'{"amount": 1}', "pay_1")[1].fingerprint
    assert one != parse_refund(KEY, b'{"amount": 1}', "pay_2")[1].fingerprint


def test_a_refund_refusal_names_its_fields() -> None:
    with pytest.raises(GatewayError) as info:
        parse_refund({}, b'{"amount": 0, "note": "x"}', "pay_1")
    assert [(f.field, f.reason) for f in info.value.fields] == [
        ("Idempotency-Key", "required header, 1-64 printable characters"),
        ("amount", "expected a whole number >= 1, got 0"),
        ("note", "expected one of the known fields (amount)"),
    ]

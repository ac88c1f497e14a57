"""Bad input is a 4xx naming what is wrong, never changes state, and never a 5xx."""

from __future__ import annotations

import asyncio
import json
import random
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from yarl import URL

from tests.mock_gateway.support import PAY, TOKEN, Api, Reply, db_counts, payment_body

AMOUNT = 1_000
KEY = "k-bad-input"
Body = dict[str, Any]


def _drop(name: str) -> Callable[[Body], Body]:
    return lambda b: {k: v for k, v in b.items() if k != name}


def _set(name: str, value: Any) -> Callable[[Body], Body]:
    return lambda b: {**b, name: value}


def _json(change: Callable[[Body], Body]) -> Callable[[Body], bytes]:
    return lambda b: json.dumps(change(b)).encode()


def _raw(data: bytes) -> Callable[[Body], bytes]:
    return lambda _b: data


# (id, Idempotency-Key or None to leave it out, body builder, field named)
Case = tuple[str, str | None, Callable[[Body], bytes], str]
INVALID: list[Case] = [
    ("key missing", None, _json(dict), "Idempotency-Key"),
    ("key empty", "", _json(dict), "Idempotency-Key"),
    ("key 65 chars", "k" * 65, _json(dict), "Idempotency-Key"),
    ("key with a tab", "k\tey", _json(dict), "Idempotency-Key"),
    ("key not ascii", "ключ", _json(dict), "Idempotency-Key"),
    ("body empty", KEY, _raw(b""), "body"),
    ("body not json", KEY, _raw(b'{"user_id": '), "body"),
    ("body not utf-8", KEY, _raw(b'{"user_id": "\xff"}'), "body"),
    ("body an array", KEY, _raw(b"[]"), "body"),
    ("body a string", KEY, _raw(b'"pay"'), "body"),
    ("unknown field", KEY, _json(_set("tip", 5)), "tip"),
    ("user_id missing", KEY, _json(_drop("user_id")), "user_id"),
    ("merchant_id missing", KEY, _json(_drop("merchant_id")), "merchant_id"),
    ("amount missing", KEY, _json(_drop("amount")), "amount"),
    ("currency missing", KEY, _json(_drop("currency")), "currency"),
    ("amount 0", KEY, _json(_set("amount", 0)), "amount"),
    ("amount -1", KEY, _json(_set("amount", -1)), "amount"),
    ("amount 1.5", KEY, _json(_set("amount", 1.5)), "amount"),
    ("amount string", KEY, _json(_set("amount", "100")), "amount"),
    ("amount true", KEY, _json(_set("amount", True)), "amount"),
    ("amount null", KEY, _json(_set("amount", None)), "amount"),
    ("amount 50_000_001", KEY, _json(_set("amount", 50_000_001)), "amount"),
    ("amount 10**30", KEY, _json(_set("amount", 10**30)), "amount"),
    ("currency USD", KEY, _json(_set("currency", "USD")), "currency"),
    ("user_id 123", KEY, _json(_set("user_id", 123)), "user_id"),
    ("user_id empty", KEY, _json(_set("user_id", "")), "user_id"),
    ("merchant_id list", KEY, _json(_set("merchant_id", ["m00001"])), "merchant_id"),
    ("order_id 65 chars", KEY, _json(_set("order_id", "o" * 65)), "order_id"),
    ("client a string", KEY, _json(_set("client", "iphone")), "client"),
    ("client.network", KEY, _json(_set("client", {"network": "carrier-pigeon"})), "client.network"),
    ("client unknown field", KEY, _json(_set("client", {"os": "ios"})), "client.os"),
    ("client.app_version 33", KEY, _json(_set("client", {"app_version": "9" * 33})),
     "client.app_version"),
]  # fmt: skip


async def _state(api: Api, db: Path, user: str) -> tuple[object, ...]:
    audit = await api.audit()
    checks = audit["checks"]
    return (
        await api.available(user),
        db_counts(db),
        checks["conservation"]["detail"],
        checks["replays_match_payments"]["detail"]["records"],
        audit["pending"],
    )


async def _then_a_valid_payment_works(api: Api, key: str, body: Body) -> None:
    reply = await api.pay(key, body)
    assert reply.status == 200, reply.body
    assert not reply.replayed
    assert (await api.audit())["ok"] is True


@pytest.mark.parametrize(
    ("key", "build", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
async def test_invalid_payment_is_400_naming_the_field_and_changes_nothing(
    api: Api, db_path: Path, key: str | None, build: Callable[[Body], bytes], field: str
) -> None:
    user = await api.payer(AMOUNT)
    body = payment_body(user, await api.shop(), AMOUNT, order_id="o-1")
    before = await _state(api, db_path, user)

    reply = await api.post(PAY, data=build(body), key=key)

    assert reply.status == 400, reply.body
    assert reply.error["code"] == "INVALID_REQUEST"
    assert reply.error["retryable"] is False
    assert field in reply.fields, reply.fields
    assert all(f["reason"] for f in reply.error["fields"])
    assert await _state(api, db_path, user) == before
    usable = key if key and field != "Idempotency-Key" else "k-fresh"
    await _then_a_valid_payment_works(api, usable, body)


async def test_every_bad_field_is_listed_at_once(api: Api) -> None:
    bad = {"user_id": 1, "merchant_id": "", "amount": 0, "currency": "usd", "extra": True}
    reply = await api.post(PAY, body=bad)
    assert reply.status == 400
    assert set(reply.fields) == {
        "Idempotency-Key",
        "user_id",
        "merchant_id",
        "amount",
        "currency",
        "extra",
    }


@pytest.mark.parametrize("field", ["user_id", "merchant_id"])
async def test_unknown_user_or_merchant_is_404_and_changes_nothing(
    api: Api, db_path: Path, field: str
) -> None:
    user = await api.payer(AMOUNT)
    body = payment_body(user, await api.shop(), AMOUNT)
    before = await _state(api, db_path, user)

    reply = await api.pay(KEY, {**body, field: "nobody-000"})

    assert reply.status == 404
    assert reply.error["code"] == "NOT_FOUND"
    assert reply.fields == [field]
    assert await _state(api, db_path, user) == before
    await _then_a_valid_payment_works(api, KEY, body)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{PAY}/pay_unknown"),
        ("POST", f"{PAY}/pay_unknown/reverse"),
        ("POST", f"{PAY}/pay_unknown/refunds"),
    ],
)
async def test_unknown_payment_is_404(api: Api, db_path: Path, method: str, path: str) -> None:
    counts = db_counts(db_path)
    reply = await api.call(method, path, key="k-refund", body={"amount": 1})
    assert reply.status == 404
    assert reply.error["code"] == "NOT_FOUND"
    assert reply.fields == ["payment_id"]
    assert db_counts(db_path) == counts


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", PAY),
        ("PUT", PAY),
        ("DELETE", f"{PAY}/pay_x"),
        ("GET", f"{PAY}/pay_x/reverse"),
        ("GET", f"{PAY}/pay_x/refunds"),
        ("POST", "/v1/accounts/u000001"),
        ("PATCH", "/v1/merchants/m00001"),
        ("POST", "/healthz"),
        ("DELETE", "/_admin/audit"),
    ],
)
async def test_wrong_method_is_405_with_allow(api: Api, method: str, path: str) -> None:
    reply = await api.call(method, path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status == 405
    assert reply.error["code"] == "METHOD_NOT_ALLOWED"
    assert reply.headers["Allow"]
    assert method not in reply.headers["Allow"].split(",")


@pytest.mark.parametrize(
    "path", ["/", "/v1", "/v1/", "/v1/payment", "/v2/payments", f"{PAY}/a/b/c", "/_admin/x"]
)
async def test_unknown_path_is_404(api: Api, path: str) -> None:
    reply = await api.call("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status == 404
    assert reply.error["code"] == "NOT_FOUND"


# -- garbage -------------------------------------------------------------------------------

SEGMENTS = ["payments", "accounts", "merchants", "reverse", "refunds", "u000001", "m00001",
            "..", ".", "%00", "%ff", "%2F", "null", "-1", "0" * 80, "😀", "pay_", ""]  # fmt: skip
PRINTABLE = string.ascii_letters + string.digits + string.punctuation + " "


def _garbage_text(rng: random.Random, size: int) -> str:
    alphabet = PRINTABLE + "éß中😀\t"
    return "".join(rng.choice(alphabet) for _ in range(size)).strip()


def _garbage_body(rng: random.Random, valid: Body) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 300))
    if kind == 1:  # a valid body with a byte flipped or cut short
        raw = bytearray(json.dumps(valid).encode())
        raw[rng.randrange(len(raw))] = rng.randrange(256)
        return bytes(raw[: rng.randrange(1, len(raw) + 1)])
    if kind == 2:  # the right shape with wrong values
        values: list[Any] = [None, True, -1, 0, 1, 2**63, 1e308, "", "x" * 70, [], {}, "CNY"]
        return json.dumps({k: rng.choice([v, *values]) for k, v in valid.items()}).encode()
    nested: Any = 1
    for _ in range(rng.randrange(1, 300)):
        nested = [nested] if rng.random() < 0.5 else {"a": nested}
    return json.dumps({**valid, "client": nested}).encode()


def _garbage_request(rng: random.Random, valid: Body) -> tuple[str, str, bytes, dict[str, str]]:
    method = rng.choice(["GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
    segments = [
        rng.choice([*SEGMENTS, _garbage_text(rng, rng.randrange(1, 20))])
        for _ in range(rng.randrange(0, 4))
    ]
    path = "/v1/" + "/".join(quote(s, safe="%") for s in segments)
    if rng.random() < 0.6:
        routes = [PAY, PAY, PAY, f"{PAY}/pay_x/refunds", f"{PAY}/pay_x/reverse", "/_admin/audit"]
        path = rng.choice(routes)
    headers: dict[str, str] = {}
    for name in ("Idempotency-Key", "Authorization", "Content-Type", "X-Request-Id"):
        if rng.random() < 0.6:
            headers[name] = _garbage_text(rng, rng.randrange(0, 90))
    return method, path, _garbage_body(rng, valid), headers


async def test_garbage_never_gets_a_5xx_and_the_server_stays_healthy(api: Api) -> None:
    rng = random.Random(20_241_111)
    user = await api.payer(AMOUNT)
    valid = payment_body(user, await api.shop(), AMOUNT)
    requests = [_garbage_request(rng, valid) for _ in range(200)]

    async def send(method: str, path: str, data: bytes, headers: dict[str, str]) -> Reply:
        # Api.call also checks each answer has a request id and is documented.
        return await api.call(method, path, data=data, headers=headers)

    replies = []
    for batch in range(0, len(requests), 20):
        replies += await asyncio.gather(*(send(*r) for r in requests[batch : batch + 20]))

    statuses = sorted({r.status for r in replies})
    assert statuses[-1] < 500, [
        (r.method, r.path, r.status, r.body) for r in replies if r.status >= 500
    ]
    assert {400, 404, 405} <= set(statuses), "the garbage should reach several checks"
    assert (await api.get("/healthz")).status == 200
    audit = await api.audit()
    assert audit["ok"] is True, audit
    await _then_a_valid_payment_works(api, "k-after-garbage", valid)


async def _raw_status(host: str, port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    return int(status_line.split()[1])


async def test_header_bytes_that_are_not_utf8_never_get_a_5xx(api: Api) -> None:
    # Header values are bytes on the wire; aiohttp's client only sends valid UTF-8.
    url = URL(api.base_url)
    assert url.host is not None and url.port is not None
    rng = random.Random(7)
    statuses = []
    for n in range(60):
        value = bytes(rng.choice([*range(0x21, 0x7F), *range(0x80, 0x100)]) for _ in range(12))
        target, header = [
            (b"GET /_admin/audit", b"Authorization: Bearer "),
            (b"POST /v1/payments", b"Idempotency-Key: "),
            (b"POST /v1/payments/pay_x/refunds", b"Idempotency-Key: "),
        ][n % 3]
        request = (
            target
            + b" HTTP/1.1\r\nHost: x\r\n"
            + header
            + value
            + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        statuses.append(await _raw_status(url.host, url.port, request))
    assert max(statuses) < 500, statuses
    assert set(statuses) >= {400, 401}
    assert (await api.get("/healthz")).status == 200

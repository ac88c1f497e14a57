"""Request size limits on a real `python -m mock_gateway` (the HTTP parser's limits are set on
its command line): a URL, header or body over the gateway's limit is refused with the
catalogue's 414, 431 or 413 naming what was too large, changes nothing, and what is just under
the limit still works. Past the parser's own limits aiohttp refuses the request, and the
gateway's log keeps none of the request's bytes."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from yarl import URL

from contract.limits import (
    MAX_HEADER_BYTES,
    MAX_HEADERS,
    MAX_HEADERS_BYTES,
    MAX_URL_BYTES,
    PARSER_LIMITS,
)
from mock_gateway.requests import MAX_KEY_LEN
from tests.mock_gateway.conftest import Gateways
from tests.mock_gateway.support import PAY, TOKEN, Api, Reply, db_counts, payment_body

MAX_BODY = 64 * 1024  # GatewayConfig.max_body_bytes, the command line's default
AMOUNT = 500
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _refused(reply: Reply, status: int, code: str, field: str) -> None:
    assert reply.status == status, (reply.status, reply.body[:300])
    assert reply.error["code"] == code
    assert reply.error["retryable"] is False
    assert reply.fields == [field], reply.error
    assert reply.error["fields"][0]["reason"]


def _header(name: str, size: int) -> dict[str, str]:
    """One header whose name and value together are `size` bytes."""
    return {name: "v" * (size - len(name))}


async def test_oversized_requests_get_the_catalogue_answer_and_change_nothing(
    gateways: Gateways, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    db = tmp_path / "ledger.db"
    gw = await gateways.start(db)
    api = await Api.connect(http, gw.url)
    user = await api.payer(10 * AMOUNT)
    body = payment_body(user, await api.shop(), AMOUNT)
    paid = await api.pay("k-paid", body)
    assert paid.status == 200
    payment_id = paid.json()["payment_id"]
    before = (db_counts(db), await api.available(user))

    # A valid payment but for its size: an order_id that takes the body one byte over.
    fits = len(json.dumps({**body, "order_id": ""}).encode())
    over_body = json.dumps({**body, "order_id": "o" * (MAX_BODY - fits + 1)}).encode()
    assert len(over_body) == MAX_BODY + 1
    _refused(await api.post(PAY, key="k-big", data=over_body), 413, "PAYLOAD_TOO_LARGE", "body")
    _refused(
        await api.post(f"{PAY}/{payment_id}/refunds", key="r-big", data=b" " * (MAX_BODY + 1)),
        413,
        "PAYLOAD_TOO_LARGE",
        "body",
    )
    _refused(
        await api.post("/_chaos/faults", data=b"{" + b" " * MAX_BODY + b"}", headers=AUTH),
        413,
        "PAYLOAD_TOO_LARGE",
        "body",
    )
    _refused(await api.get("/v1/accounts/" + "u" * MAX_URL_BYTES), 414, "URI_TOO_LONG", "url")
    _refused(
        await api.call(
            "POST", PAY, body=body, key="k-hdr", headers=_header("X-Big", MAX_HEADER_BYTES + 1)
        ),
        431,
        "HEADERS_TOO_LARGE",
        "X-Big",
    )
    several = {
        f"X-Part-{n}": "v" * (MAX_HEADERS_BYTES // 4) for n in range(5)
    }  # each under the one-header limit, together over the total
    _refused(await api.get("/healthz", headers=several), 431, "HEADERS_TOO_LARGE", "headers")
    many = {f"X-N-{n}": "1" for n in range(MAX_HEADERS + 1)}
    _refused(await api.get("/metrics", headers=many), 431, "HEADERS_TOO_LARGE", "headers")
    # The token is one header like any other: over the limit, its value is never echoed.
    long_auth = await api.get("/_admin/audit", headers={"Authorization": "Bearer " + "s" * 9000})
    _refused(long_auth, 431, "HEADERS_TOO_LARGE", "Authorization")
    assert b"sss" not in long_auth.body
    key_over = await api.pay("k" * (MAX_KEY_LEN + 1), body)
    assert key_over.status == 400 and "Idempotency-Key" in key_over.fields

    assert (db_counts(db), await api.available(user)) == before
    audit = await api.audit()
    assert audit["ok"] is True, audit

    # Just under every limit, the same requests are served.
    fitting = {**body, "order_id": "o" * 64, "client": {"app_version": "9" * 32}}
    near = _header("X-Near", MAX_HEADER_BYTES)
    ok = await api.call("POST", PAY, body=fitting, key="k" * MAX_KEY_LEN, headers=near)
    assert ok.status == 200, ok.body
    assert (await api.get("/healthz", headers={f"X-N-{n}": "1" for n in range(50)})).status == 200
    assert (await api.get("/v1/accounts/" + "u" * 2000)).status == 404


async def _chunks(total: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(8192, total - sent)
        sent += piece
        yield b" " * piece


async def test_a_chunked_body_is_cut_off_at_the_limit(
    gateways: Gateways, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    gw = await gateways.start(tmp_path / "ledger.db")
    async with http.post(
        gw.url + PAY, data=_chunks(MAX_BODY + 8192), headers={"Idempotency-Key": "k-chunked"}
    ) as resp:
        assert resp.status == 413
        error = (await resp.json())["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert [f["field"] for f in error["fields"]] == ["body"]
    async with http.get(gw.url + "/healthz") as health:
        assert health.status == 200


async def _raw(url: str, request: bytes) -> bytes:
    target = URL(url)
    assert target.host is not None and target.port is not None
    reader, writer = await asyncio.open_connection(target.host, target.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_past_the_parser_limits_the_log_keeps_no_request_bytes(
    gateways: Gateways, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    gw = await gateways.start(tmp_path / "ledger.db")
    huge = b"q" * (PARSER_LIMITS["max_field_size"] + 1)
    # A control character right after the token makes the parser quote the line it failed on.
    broken = b"Authorization: Bearer " + TOKEN.encode() + b"-secret-part\x01\r\n"
    for request in (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: " + huge + b"\r\n\r\n",
        b"GET /_admin/audit HTTP/1.1\r\nHost: x\r\n" + broken + b"\r\n",
        b"GET /healthz?" + huge + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ):
        answer = await _raw(gw.url, request)
        assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0], answer
    async with http.get(gw.url + "/healthz") as health:
        assert health.status == 200

    gw.signal(signal.SIGTERM)
    assert await gw.exited() == 0
    log = "\n".join(gw.stderr)
    assert "secret-part" not in log and "qqqq" not in log, log
    assert "Traceback" not in log, log
    refusals = [line for line in gw.stderr if "could not read" in line]
    assert len(refusals) == 3, gw.stderr

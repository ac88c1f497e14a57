"""Helpers shared by the gateway tests: a client that checks every answer against the served
OpenAPI document, and small finders over the seeded population."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from jsonschema import Draft202012Validator
from multidict import CIMultiDictProxy
from yarl import URL

from contract import routes

TOKEN = "t"
ACCOUNTS = 200
MERCHANTS = 20
PAY = "/v1/payments"


@dataclass(frozen=True)
class Reply:
    method: str
    path: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error(self) -> dict[str, Any]:
        err = self.json()["error"]
        assert isinstance(err, dict)
        return err

    @property
    def fields(self) -> list[str]:
        return [f["field"] for f in self.error.get("fields", [])]

    @property
    def replayed(self) -> bool:
        return self.headers.get("Idempotent-Replayed") == "true"


@dataclass
class Contract:
    """The served OpenAPI document; `check` fails on any answer it does not describe."""

    doc: dict[str, Any]
    seen: set[tuple[str, str, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        Draft202012Validator.check_schema({"components": self.doc["components"]})
        self._templates = [
            (re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", t) + "$"), t)
            for t in self.doc["paths"]
        ]

    def template(self, path: str) -> str | None:
        template: str
        for pattern, template in self._templates:
            if pattern.match(path):
                return template
        return None

    def validate(self, schema: Mapping[str, Any], instance: Any) -> None:
        validator = Draft202012Validator({"components": self.doc["components"], **schema})
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, f"{instance!r} does not match {schema}: {errors[0].message}"

    def validate_named(self, name: str, instance: Any) -> None:
        self.validate({"$ref": f"#/components/schemas/{name}"}, instance)

    def check(self, reply: Reply) -> None:
        # Routes match the path as sent (an encoded slash stays inside its segment).
        path = reply.path.split("?")[0]
        template = self.template(path)
        op = self.doc["paths"].get(template, {}).get(reply.method.lower()) if template else None
        if op is None:
            # Not an operation of the API: 404 or 405 (401 first, under the guarded prefixes).
            honest = {404, 405, *((401,) if path.startswith(routes.PROTECTED_PREFIXES) else ())}
            assert reply.status in honest, (reply.method, reply.path, reply.status)
            self.validate_named("Error", reply.json())
            return
        assert template is not None
        self.seen.add((reply.method, template, reply.status))
        documented = op["responses"]
        assert str(reply.status) in documented, (
            f"{reply.method} {template} answered {reply.status}, documented: {sorted(documented)}"
        )
        content = documented[str(reply.status)].get("content", {})
        if "application/json" in content:
            assert reply.headers["Content-Type"].startswith("application/json")
            self.validate(content["application/json"]["schema"], reply.json())
        else:
            (media,) = content
            assert reply.headers["Content-Type"].startswith(media)


class Api:
    """One gateway, spoken to over real HTTP; every reply is checked for X-Request-Id and
    against the OpenAPI document before the test sees it."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, contract: Contract) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.contract = contract
        self.n_accounts = ACCOUNTS
        self.n_merchants = MERCHANTS

    @classmethod
    async def connect(cls, session: aiohttp.ClientSession, base_url: str) -> Api:
        async with session.get(base_url.rstrip("/") + "/openapi.json") as resp:
            assert resp.status == 200
            doc = await resp.json()
        api = cls(session, base_url, Contract(doc))
        health = (await api.get("/healthz")).json()
        api.n_accounts, api.n_merchants = health["accounts"], health["merchants"]
        return api

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        data: bytes | None = None,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if key is not None:
            sent["Idempotency-Key"] = key
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        url = URL(self.base_url + path, encoded=True)
        async with self.session.request(method, url, data=data, headers=sent) as resp:
            reply = Reply(method, path, resp.status, resp.headers, await resp.read())
        request_id = reply.headers.get("X-Request-Id", "")
        assert re.fullmatch(r"[0-9a-f]{16}", request_id), (method, path, reply.headers)
        if method != "HEAD":
            self.contract.check(reply)
            if reply.status >= 400 and not reply.replayed:
                assert reply.error["request_id"] == request_id
        return reply

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Reply:
        return await self.call("POST", path, **kw)

    async def pay(self, key: str, body: Mapping[str, Any]) -> Reply:
        return await self.post(PAY, key=key, body=dict(body))

    async def payment(self, payment_id: str) -> dict[str, Any]:
        reply = await self.get(f"{PAY}/{payment_id}")
        assert reply.status == 200, reply.body
        return dict(reply.json())

    async def refund(self, payment_id: str, key: str, amount: Any) -> Reply:
        return await self.post(f"{PAY}/{payment_id}/refunds", key=key, body={"amount": amount})

    async def reverse(self, payment_id: str) -> Reply:
        return await self.post(f"{PAY}/{payment_id}/reverse")

    async def account(self, user_id: str) -> dict[str, Any]:
        reply = await self.get(f"/v1/accounts/{user_id}")
        assert reply.status == 200, reply.body
        return dict(reply.json())

    async def available(self, user_id: str) -> int:
        return int((await self.account(user_id))["available_credit"])

    async def merchant(self, merchant_id: str) -> dict[str, Any]:
        reply = await self.get(f"/v1/merchants/{merchant_id}")
        assert reply.status == 200, reply.body
        return dict(reply.json())

    async def audit(self) -> dict[str, Any]:
        reply = await self.get(routes.AUDIT.path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert reply.status == 200, reply.body
        return dict(reply.json())

    async def accounts(self) -> list[dict[str, Any]]:
        ids = [f"u{n:06d}" for n in range(1, self.n_accounts + 1)]
        return list(await asyncio.gather(*map(self.account, ids)))

    async def merchants(self) -> list[dict[str, Any]]:
        ids = [f"m{n:05d}" for n in range(1, self.n_merchants + 1)]
        return list(await asyncio.gather(*map(self.merchant, ids)))

    async def find_account(self, want: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        for account in await self.accounts():
            if want(account):
                return account
        raise AssertionError("no seeded account fits; the seeded population changed")

    async def payer(self, amount: int, *, exclude: tuple[str, ...] = ()) -> str:
        """An ACTIVE seeded user that can pay `amount`."""
        account = await self.find_account(
            lambda a: (
                a["status"] == "ACTIVE"
                and a["available_credit"] >= amount
                and a["txn_limit"] >= amount
                and a["user_id"] not in exclude
            )
        )
        return str(account["user_id"])

    async def shop(self, *, accepts_credit: bool = True) -> str:
        for merchant in await self.merchants():
            if merchant["accepts_credit"] is accepts_credit:
                return str(merchant["merchant_id"])
        raise AssertionError(f"no seeded merchant with accepts_credit={accepts_credit}")


def payment_body(user_id: str, merchant_id: str, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "merchant_id": merchant_id,
        "amount": amount,
        "currency": "CNY",
        **extra,
    }


def db_counts(db: Path) -> dict[str, int]:
    """Row counts of every table that a request could write, read straight from the file."""
    conn = sqlite3.connect(db)
    try:
        return {
            table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("payments", "ledger", "idempotency", "refunds")
        }
    finally:
        conn.close()


async def wait_until(probe: Callable[[], Any], what: str, timeout_s: float = 10.0) -> None:
    """Poll an async probe until it returns true; fail with `what` after the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await probe():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)

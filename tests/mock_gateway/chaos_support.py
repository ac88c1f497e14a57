"""Helpers for the fault tests: the chaos API through the contract-checked `Api`, metrics,
a fast profile, and one payment seen as the client sees it (marker, status, time taken)."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from prometheus_client.parser import text_string_to_metric_families

from contract import routes
from contract.profile import CHANNEL_NAMES, DEFAULT, Profile, apply_overrides
from mock_gateway.channels import Router
from tests.mock_gateway.support import PAY, TOKEN, Api, payment_body, wait_until

AUTH = {"Authorization": f"Bearer {TOKEN}"}
FAULT_HEADER = "X-Paystorm-Fault"
AMOUNT = 100

# Short settle delay and timeouts, near-instant channels: a fault's effect stands out and
# PENDING payments settle within about a second (the settler polls every 0.5 s).
FAST_OVERRIDES: dict[str, Any] = {
    "settle": {"delay_s": 0.3},
    "timeouts": {"channel_ms": 300, "db_ms": 300},
    "channels": {name: {"service_ms": 2, "jitter": 0} for name in CHANNEL_NAMES},
}


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, value in extra.items():
        old = out.get(name)
        both = isinstance(old, Mapping) and isinstance(value, Mapping)
        out[name] = _merged(old, value) if both else value  # type: ignore[arg-type]
    return out


def fast_profile(**sections: Any) -> Profile:
    """The default profile made fast, with more overrides on top (merged per field)."""
    return apply_overrides(_merged(FAST_OVERRIDES, sections), DEFAULT)


class Chaos:
    """The chaos admin API of one gateway, called raw (not through contract.admin's client)
    so that every reply, refusals included, goes through the OpenAPI contract check."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def add(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        reply = await self.api.post(routes.ADD_FAULT.path, body=dict(spec), headers=AUTH)
        assert reply.status == 201, reply.body
        fault: dict[str, Any] = reply.json()
        return fault

    async def add_active(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        fault = await self.add(spec)
        return await self.wait_state(fault["id"], "active")

    async def faults(self) -> list[dict[str, Any]]:
        reply = await self.api.get(routes.FAULTS.path, headers=AUTH)
        assert reply.status == 200, reply.body
        return list(reply.json()["faults"])

    async def fault(self, fault_id: str) -> dict[str, Any] | None:
        return next((f for f in await self.faults() if f["id"] == fault_id), None)

    async def wait_state(self, fault_id: str, state: str, timeout_s: float = 10) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def reached() -> bool:
            fault = await self.fault(fault_id)
            assert fault is not None, f"{fault_id} vanished"
            seen.update(fault)
            return bool(fault["state"] == state)

        await wait_until(reached, f"{fault_id} to be {state}", timeout_s)
        return seen

    async def remove(self, fault_id: str) -> dict[str, Any]:
        reply = await self.api.call(
            "DELETE", routes.DELETE_FAULT.url("", fault_id=fault_id), headers=AUTH
        )
        assert reply.status == 200, reply.body
        fault: dict[str, Any] = reply.json()
        return fault

    async def clear(self) -> int:
        reply = await self.api.call("DELETE", routes.CLEAR_FAULTS.path, headers=AUTH)
        assert reply.status == 200, reply.body
        return int(reply.json()["removed"])

    async def events(self) -> list[dict[str, Any]]:
        reply = await self.api.get(routes.EVENTS.path, headers=AUTH)
        assert reply.status == 200, reply.body
        return list(reply.json()["events"])

    async def event(self, fault_id: str) -> dict[str, Any]:
        events = [e for e in await self.events() if e["id"] == fault_id]
        assert len(events) == 1, (fault_id, events)
        return events[0]


async def metric(api: Api, sample: str, **labels: str) -> float:
    """One sample of /metrics, e.g. metric(api, "paystorm_fault_active", kind="error")."""
    reply = await api.get("/metrics")
    assert reply.status == 200
    for family in text_string_to_metric_families(reply.body.decode()):
        for s in family.samples:
            if s.name == sample and s.labels == labels:
                return float(s.value)
    raise AssertionError(f"no sample {sample}{labels}")


async def settled_audit(api: Api, timeout_s: float = 10) -> dict[str, Any]:
    """The audit once no payment is PENDING any more; it must hold."""
    audit: dict[str, Any] = {}

    async def settled() -> bool:
        audit.update(await api.audit())
        return bool(audit["pending"] == 0)

    await wait_until(settled, "PENDING payments to settle", timeout_s)
    assert audit["ok"] is True, audit
    assert audit["checks"]["closed_loop"]["ok"] is True
    return audit


async def gauge_is(api: Api, sample: str, value: float) -> None:
    async def reached() -> bool:
        return await metric(api, sample) == value

    await wait_until(reached, f"{sample} == {value}")


@asynccontextmanager
async def ledger_locked(db: Path) -> AsyncIterator[None]:
    """Hold the ledger's write lock: payments wait in their commit (give them a long db_ms),
    so what is in flight is known without relying on speed."""
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        lock.execute("ROLLBACK")
        lock.close()


def db_locked(db: Path) -> bool:
    """Whether another connection holds the database's write lock right now."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc), exc
        return True
    finally:
        conn.close()
    return False


def stored_answer(db: Path, route: str, key: str) -> tuple[int, bytes]:
    """The status and exact body the gateway stored for a key, read straight from the file."""
    conn = sqlite3.connect(db)
    try:
        row = conn.execute(
            "SELECT http_status, body FROM idempotency WHERE route = ? AND key = ?", (route, key)
        ).fetchone()
    finally:
        conn.close()
    assert row is not None, f"nothing stored for {route} {key}"
    return int(row[0]), bytes(row[1])


def payment_rows(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM payments").fetchone()[0])
    finally:
        conn.close()


@dataclass(frozen=True)
class Seen:
    """One answer as the client saw it; status None when the connection was dropped."""

    key: str
    status: int | None
    headers: CIMultiDictProxy[str]
    body: bytes
    elapsed_s: float
    replayed: bool = False

    @property
    def markers(self) -> tuple[str, ...]:
        marker = self.headers.get(FAULT_HEADER)
        return tuple(marker.split(",")) if marker else ()

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def code(self) -> str | None:
        if self.status is None or self.status == 200:
            return None
        return str(self.json()["error"]["code"])

    @property
    def payment_id(self) -> str:
        data = self.json()
        return str(data["payment_id"] if self.status == 200 else data["error"]["payment_id"])


_NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


@dataclass
class Shop:
    """One gateway seen by a shopper: two users with credit, one shop, fresh keys."""

    api: Api
    db: Path
    user: str
    other: str
    shop: str
    profile: Profile = DEFAULT
    _n: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    async def open(cls, api: Api, db: Path, profile: Profile = DEFAULT) -> Shop:
        """The first two users who can pay 100 times, and the first shop that accepts."""
        users: list[str] = []
        for n in range(1, api.n_accounts + 1):
            a = await api.account(f"u{n:06d}")
            fits = a["available_credit"] >= 100 * AMOUNT and a["txn_limit"] >= AMOUNT
            if a["status"] == "ACTIVE" and fits:
                users.append(a["user_id"])
            if len(users) == 2:
                break
        assert len(users) == 2, "the seeded population changed"
        for n in range(1, api.n_merchants + 1):
            merchant = await api.merchant(f"m{n:05d}")
            if merchant["accepts_credit"]:
                return cls(api, db, users[0], users[1], merchant["merchant_id"], profile)
        raise AssertionError("no seeded merchant accepts credit-pay")

    def key(self, prefix: str = "k") -> str:
        return f"{prefix}-{next(self._n)}"

    def primary(self, key: str) -> str:
        """The channel a payment with this key tries first (the split is by key)."""
        return Router(self.profile).primary(key)

    def key_on(self, channel: str) -> str:
        """A fresh key whose payment tries `channel` first."""
        while self.primary(key := self.key(channel)) != channel:
            pass
        return key

    def body(self, user: str | None = None) -> dict[str, Any]:
        return payment_body(user or self.user, self.shop, AMOUNT)

    async def pay(self, key: str | None = None, user: str | None = None) -> Seen:
        """POST /v1/payments through the contract-checked client."""
        key = key or self.key()
        started = time.perf_counter()
        reply = await self.api.pay(key, self.body(user))
        elapsed = time.perf_counter() - started
        return Seen(key, reply.status, reply.headers, reply.body, elapsed, reply.replayed)

    async def pay_raw(self, key: str | None = None) -> Seen:
        """POST /v1/payments as bytes on the wire: for faults that break the response."""
        return await self.raw("POST", PAY, key=key or self.key(), body=self.body())

    async def raw(
        self, method: str, path: str, *, key: str | None = None, body: Any = None
    ) -> Seen:
        """Any request as bytes on the wire, not contract-checked (the response may be broken
        or never come); `Seen.key` is the idempotency key, or the path without one."""
        headers = {} if key is None else {"Idempotency-Key": key}
        started = time.perf_counter()
        try:
            async with self.api.session.request(
                method, self.api.base_url + path, json=body, headers=headers
            ) as resp:
                data = await resp.read()
                status, got = resp.status, resp.headers
        except aiohttp.ClientError:
            return Seen(key or path, None, _NO_HEADERS, b"", time.perf_counter() - started)
        replayed = got.get("Idempotent-Replayed") == "true"
        return Seen(key or path, status, got, data, time.perf_counter() - started, replayed)

    async def available(self, user: str | None = None) -> int:
        return await self.api.available(user or self.user)


def start_paying(shop: Shop, count: int) -> list[asyncio.Task[Seen]]:
    """`count` payments sent at once, not awaited."""
    return [asyncio.ensure_future(shop.pay()) for _ in range(count)]

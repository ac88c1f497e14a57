"""Payments, reversals and refunds: decisions on in-memory state, durability through the writer.

Credit is reserved in memory before the commit (so concurrent payments cannot overdraw) and
released only after a commit (so credit is never shown free before the ledger says so)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from mock_gateway.clock import utc_now_iso
from mock_gateway.errors import GatewayError, error_body, invalid, not_found
from mock_gateway.requests import PaymentRequest, RefundRequest
from mock_gateway.store import Account, Merchant
from mock_gateway.views import PAYMENT_COLUMNS, payment_view
from mock_gateway.writer import UnitOfWork, Writer

REVERSIBLE = frozenset({"PENDING", "SUCCEEDED", "PARTIALLY_REFUNDED"})
REFUNDABLE = frozenset({"SUCCEEDED", "PARTIALLY_REFUNDED"})
DEFAULT_CHANNEL = "bank_a"


@dataclass(frozen=True, slots=True)
class Reply:
    """A response the service decided: status and exact body bytes (stored for replays)."""

    status: int
    body: bytes
    payment_id: str | None = None
    code: str | None = None
    replayed: bool = False


def new_id(prefix: str) -> str:
    # Time-ordered, so ids sort by creation like the rows they name.
    return f"{prefix}_{time.time_ns() // 1_000_000:x}{os.urandom(6).hex()}"


class _KeyedLocks:
    """One asyncio lock per payment id, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class PaymentService:
    def __init__(
        self,
        reader: sqlite3.Connection,
        writer: Writer,
        accounts: dict[str, Account],
        merchants: Mapping[str, Merchant],
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.accounts = accounts
        self.merchants = merchants
        self._in_flight: set[tuple[str, str]] = set()
        self._payment_locks = _KeyedLocks()

    # -- reads -------------------------------------------------------------------------------

    def payment_row(self, payment_id: str) -> tuple[Any, ...] | None:
        return self._reader.execute(  # type: ignore[no-any-return]
            f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE payment_id = ?", (payment_id,)
        ).fetchone()

    def payment(self, payment_id: str) -> dict[str, Any]:
        row = self.payment_row(payment_id)
        if row is None:
            raise not_found("payment_id", payment_id)
        return payment_view(row)

    def account(self, user_id: str) -> Account:
        account = self.accounts.get(user_id)
        if account is None:
            raise not_found("user_id", user_id)
        return account

    def merchant(self, merchant_id: str) -> Merchant:
        merchant = self.merchants.get(merchant_id)
        if merchant is None:
            raise not_found("merchant_id", merchant_id)
        return merchant

    def _stored(self, route: str, key: str, fingerprint: bytes) -> Reply | None:
        row = self._reader.execute(
            "SELECT fingerprint, http_status, body, payment_id FROM idempotency "
            "WHERE route = ? AND key = ?",
            (route, key),
        ).fetchone()
        if row is None:
            return None
        if row[0] != fingerprint:
            raise GatewayError("IDEMPOTENCY_MISMATCH", payment_id=row[3])
        return Reply(row[1], row[2], payment_id=row[3], replayed=True)

    @asynccontextmanager
    async def _claim(self, route: str, key: str) -> AsyncIterator[None]:
        claim = (route, key)
        if claim in self._in_flight:
            raise GatewayError("IDEMPOTENCY_IN_PROGRESS")
        self._in_flight.add(claim)
        try:
            yield
        finally:
            self._in_flight.discard(claim)

    # -- pay ---------------------------------------------------------------------------------

    async def pay(self, key: str, req: PaymentRequest, request_id: str) -> Reply:
        async with self._claim("pay", key):
            stored = self._stored("pay", key, req.fingerprint)
            if stored is not None:
                return stored
            account = self.account(req.user_id)
            merchant = self.merchant(req.merchant_id)
            return await self._charge(key, req, account, merchant, request_id)

    async def _charge(
        self, key: str, req: PaymentRequest, account: Account, merchant: Merchant, request_id: str
    ) -> Reply:
        payment_id = new_id("pay")
        now = utc_now_iso()
        decline = _decline_code(req, account, merchant)
        unit = UnitOfWork()
        if decline is not None:
            unit.payments.append(
                (
                    payment_id,
                    key,
                    req.user_id,
                    req.merchant_id,
                    req.amount,
                    req.currency,
                    req.order_id,
                    "FAILED",
                    0,
                    None,
                    decline,
                    now,
                    now,
                )
            )
            err = GatewayError(decline, payment_id=payment_id)
            reply = Reply(
                err.spec.http_status, orjson.dumps(error_body(err, request_id)), payment_id, decline
            )
            unit.idempotency.append(
                ("pay", key, req.fingerprint, payment_id, reply.status, reply.body, now)
            )
            await self._commit(unit)
            return reply

        row = (
            payment_id,
            key,
            req.user_id,
            req.merchant_id,
            req.amount,
            req.currency,
            req.order_id,
            "SUCCEEDED",
            0,
            DEFAULT_CHANNEL,
            None,
            now,
            now,
        )
        reply = Reply(200, orjson.dumps(payment_view(row)), payment_id, None)
        unit.payments.append(row)
        unit.ledger.append((payment_id, f"user:{req.user_id}", req.amount, "capture", now))
        unit.ledger.append((payment_id, f"merchant:{req.merchant_id}", -req.amount, "capture", now))
        unit.account_deltas.append((req.amount, req.user_id))
        unit.idempotency.append(("pay", key, req.fingerprint, payment_id, 200, reply.body, now))
        account.used += req.amount
        try:
            await self._commit(unit)
        except GatewayError:
            account.used -= req.amount
            raise
        return reply

    async def _commit(self, unit: UnitOfWork) -> None:
        try:
            await self._writer.submit(unit)
        except sqlite3.Error as exc:
            # Nothing was committed: the client may replay the same key safely.
            raise GatewayError("DB_TIMEOUT", detail=f"({exc})") from exc

    # -- reverse and refund ------------------------------------------------------------------

    async def reverse(self, payment_id: str) -> Reply:
        async with self._payment_locks.hold(payment_id):
            row = self.payment_row(payment_id)
            if row is None:
                raise not_found("payment_id", payment_id)
            view = payment_view(row)
            if view["status"] not in REVERSIBLE:
                return Reply(200, orjson.dumps(view), payment_id)
            release = view["amount"] - view["refunded"]
            now = utc_now_iso()
            unit = UnitOfWork()
            unit.payment_updates.append(
                ("REVERSED", view["refunded"], view["code"], now, payment_id)
            )
            unit.ledger.append((payment_id, f"user:{view['user_id']}", -release, "reverse", now))
            unit.ledger.append(
                (payment_id, f"merchant:{view['merchant_id']}", release, "reverse", now)
            )
            unit.account_deltas.append((-release, view["user_id"]))
            await self._commit(unit)
            self.accounts[view["user_id"]].used -= release
            view.update(status="REVERSED", updated_at=now)
            return Reply(200, orjson.dumps(view), payment_id)

    async def refund(self, payment_id: str, key: str, req: RefundRequest, request_id: str) -> Reply:
        async with self._claim("refund", key):
            stored = self._stored("refund", key, req.fingerprint)
            if stored is not None:
                return stored
            async with self._payment_locks.hold(payment_id):
                return await self._refund(payment_id, key, req)

    async def _refund(self, payment_id: str, key: str, req: RefundRequest) -> Reply:
        row = self.payment_row(payment_id)
        if row is None:
            raise not_found("payment_id", payment_id)
        view = payment_view(row)
        if view["status"] not in REFUNDABLE:
            raise invalid(
                "payment_id",
                f"payment is {view['status']}; only SUCCEEDED or "
                "PARTIALLY_REFUNDED payments can be refunded",
            )
        refundable = view["amount"] - view["refunded"]
        if req.amount > refundable:
            raise invalid("amount", f"exceeds the refundable {refundable} fen")
        refunded = view["refunded"] + req.amount
        status = "REFUNDED" if refunded == view["amount"] else "PARTIALLY_REFUNDED"
        refund_id = new_id("ref")
        now = utc_now_iso()
        view.update(status=status, refunded=refunded, updated_at=now)
        body = orjson.dumps(
            {
                "refund_id": refund_id,
                "payment_id": payment_id,
                "amount": req.amount,
                "created_at": now,
                "payment": view,
            }
        )
        unit = UnitOfWork()
        unit.refunds.append((refund_id, payment_id, req.amount, now))
        unit.payment_updates.append((status, refunded, view["code"], now, payment_id))
        unit.ledger.append((payment_id, f"user:{view['user_id']}", -req.amount, "refund", now))
        unit.ledger.append(
            (payment_id, f"merchant:{view['merchant_id']}", req.amount, "refund", now)
        )
        unit.account_deltas.append((-req.amount, view["user_id"]))
        unit.idempotency.append(("refund", key, req.fingerprint, payment_id, 200, body, now))
        await self._commit(unit)
        self.accounts[view["user_id"]].used -= req.amount
        return Reply(200, body, payment_id)


def _decline_code(req: PaymentRequest, account: Account, merchant: Merchant) -> str | None:
    if not merchant.accepts_credit:
        return "MERCHANT_NOT_SUPPORTED"
    if account.status == "FROZEN":
        return "ACCOUNT_FROZEN"
    if req.amount > account.txn_limit:
        return "TXN_LIMIT_EXCEEDED"
    if req.amount > account.available:
        return "INSUFFICIENT_CREDIT"
    return None

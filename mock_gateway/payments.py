"""Payments, reversals and refunds: decisions on in-memory state, durability through the writer.

Credit is reserved in memory before the commit (so concurrent payments cannot overdraw) and
released only after a commit (so credit is never shown free before the ledger says so)."""

from __future__ import annotations

import asyncio
import math
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from random import getrandbits
from typing import Any

import orjson

from contract.clock import utc_now_iso
from contract.codes import FieldError, GatewayError, error_body, not_found
from faults import RISK_RULE, Chaos, RequestFacts, Rule, draw
from mock_gateway.channels import ChannelFailed, ChannelTimedOut, Router
from mock_gateway.keyfilter import PRELOAD_MAX, KeyFilter
from mock_gateway.requests import PaymentRequest, RefundRequest
from mock_gateway.rows import (
    PAYMENT_COLUMNS,
    AccountDelta,
    IdempotencyRow,
    IdempotencyUpdate,
    LedgerEntry,
    PaymentRow,
    PaymentUpdate,
    RefundRow,
    StoredReply,
    columns,
)
from mock_gateway.store import Account, Merchant, idempotency_keys
from mock_gateway.views import payment_view
from mock_gateway.writer import UnitOfWork, Writer

REVERSIBLE = frozenset({"PENDING", "SUCCEEDED", "PARTIALLY_REFUNDED"})
REFUNDABLE = frozenset({"SUCCEEDED", "PARTIALLY_REFUNDED"})


@dataclass(frozen=True, slots=True)
class Reply:
    """A response the service decided: status and exact body bytes (stored for replays)."""

    status: int
    body: bytes
    payment_id: str | None = None
    code: str | None = None
    replayed: bool = False


def new_id(prefix: str) -> str:
    # Time-ordered, so ids sort by creation like the rows they name. The random part only
    # has to be unique, not secret: Python's generator, no getrandom() call per payment.
    return f"{prefix}_{time.time_ns() // 1_000_000:x}{getrandbits(48):012x}"


class _Claim:
    """Holds an idempotency key while its request runs (a plain context manager: this is on
    every payment's path). A claim the request left detached stays held until its commit."""

    __slots__ = ("_claim", "_service")

    def __init__(self, service: PaymentService, claim: tuple[str, str]) -> None:
        self._service = service
        self._claim = claim

    def __enter__(self) -> None:
        in_flight = self._service._in_flight
        since = in_flight.get(self._claim)
        if since is not None:
            raise GatewayError(
                "IDEMPOTENCY_IN_PROGRESS", retry_after_s=self._service.answer_due_s(since)
            )
        in_flight[self._claim] = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        if self._claim not in self._service._detached:
            self._service._in_flight.pop(self._claim, None)


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
        router: Router,
        chaos: Chaos,
        seed: int = 1,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.accounts = accounts
        self.merchants = merchants
        self.router = router
        self.chaos = chaos
        self._seed = seed
        self._rng = random.Random(seed)
        # The gateway's own checks of a new payment that faults may come before or after.
        self._rules = (Rule(RISK_RULE, self._risk_declines),)
        self._in_flight: dict[tuple[str, str], float] = {}  # claim: when it began (monotonic)
        # Claims whose request answered DB_TIMEOUT: released when their commit lands.
        self._detached: set[tuple[str, str]] = set()
        # Payments decided but not yet committed: queries see them PENDING.
        self._uncommitted: dict[str, PaymentRow] = {}
        self._payment_locks = _KeyedLocks()
        self._keys = KeyFilter()
        self._keys.preload(idempotency_keys(reader, PRELOAD_MAX))

    def answer_due_s(self, since: float) -> int:
        """Retry-After for a key still in flight: the whole seconds until its request has had
        its channel's time (the longest it can take before it answers), at least one. A
        client that honours it comes back to the stored answer instead of spending its
        retries on IDEMPOTENCY_IN_PROGRESS while its own first attempt is still at the bank."""
        left_s = self.router.profile.channel_timeout_ms / 1000 - (time.monotonic() - since)
        return max(1, math.ceil(left_s))

    # -- reads -------------------------------------------------------------------------------

    def payment_row(self, payment_id: str) -> PaymentRow | None:
        row = self._reader.execute(
            f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE payment_id = ?", (payment_id,)
        ).fetchone()
        return None if row is None else PaymentRow._make(row)

    def payment(self, payment_id: str) -> dict[str, Any]:
        # Uncommitted until the loop hears of the commit, as replays of its key do: the
        # writer thread's COMMIT is visible to the reader a moment before that.
        row = self._uncommitted.get(payment_id) or self.payment_row(payment_id)
        if row is None:
            raise not_found("payment_id", payment_id)
        return payment_view(row)

    def _settled_row(self, payment_id: str) -> PaymentRow:
        """The committed row of a payment about to change; one still committing is busy."""
        row = self.payment_row(payment_id)
        if row is None:
            if payment_id in self._uncommitted:
                raise GatewayError(
                    "IDEMPOTENCY_IN_PROGRESS",
                    payment_id=payment_id,
                    detail="(the payment is still being recorded)",
                )
            raise not_found("payment_id", payment_id)
        return row

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
        # Every idempotency row is written after this lookup, under the key's claim: a key
        # added to the filter here covers every row that may exist for it.
        if not self._keys.check_and_add(route, key) and self._keys.complete:
            return None
        found = self._reader.execute(
            f"SELECT {columns(StoredReply)} FROM idempotency WHERE route = ? AND key = ?",
            (route, key),
        ).fetchone()
        if found is None:
            return None
        row = StoredReply._make(found)
        if row.fingerprint != fingerprint:
            raise GatewayError("IDEMPOTENCY_MISMATCH", payment_id=row.payment_id)
        return Reply(row.http_status, row.body, payment_id=row.payment_id, replayed=True)

    def _claim(self, route: str, key: str) -> _Claim:
        return _Claim(self, (route, key))

    # -- pay ---------------------------------------------------------------------------------

    async def pay(
        self, key: str, req: PaymentRequest, request_id: str, facts: RequestFacts
    ) -> Reply:
        with self._claim("pay", key):
            stored = self._stored("pay", key, req.fingerprint)
            if stored is None:
                return await self._new_payment(key, req, request_id, facts)
        return await self._replay(stored, facts)

    async def _replay(self, stored: Reply, facts: RequestFacts) -> Reply:
        """The stored answer, sent again. A replay travels the same network as the first
        attempt: a fault that hangs payments may hang it too (its own draw), and then it is
        answered `504 CHANNEL_TIMEOUT` with the payment's id; nothing is stored or changed."""
        if self.chaos.engine.active_total:
            hang_s = self.chaos.hang_s(facts)
            if hang_s is not None:
                await asyncio.sleep(hang_s)
                raise GatewayError("CHANNEL_TIMEOUT", payment_id=stored.payment_id)
        return stored

    async def _new_payment(
        self, key: str, req: PaymentRequest, request_id: str, facts: RequestFacts
    ) -> Reply:
        """A key seen for the first time, under its claim: decline or charge."""
        account = self.account(req.user_id)
        merchant = self.merchant(req.merchant_id)
        facts.user_id, facts.merchant_id = req.user_id, req.merchant_id
        decline = _decline_code(req, account, merchant)
        if decline is None:
            if self.chaos.engine.active_total:
                decline = await self.chaos.decide(facts, self._rules)
                if decline is None:
                    # A decision that waited (risk_slow) let this account's other payments
                    # reserve meanwhile: the credit is checked again, and nothing is awaited
                    # between this check and the reservation.
                    decline = _decline_code(req, account, merchant)
            else:
                decline = self._risk_declines(facts)
        if decline is not None:
            return await self._decline(key, req, decline, request_id)
        return await self._charge(key, req, account, request_id, facts)

    def _risk_declines(self, facts: RequestFacts) -> str | None:
        """Risk control's own false positives: the profile's share of good payments."""
        rate = self.router.profile.risk_false_positive_rate
        return "RISK_DECLINED" if rate and draw(self._seed, "risk", facts.key) < rate else None

    async def _decline(self, key: str, req: PaymentRequest, code: str, request_id: str) -> Reply:
        """A legitimate (or risk) decline is a FAILED payment, stored for replays."""
        payment_id = new_id("pay")
        now = utc_now_iso()
        err = GatewayError(code, payment_id=payment_id)
        reply = Reply(
            err.spec.http_status, orjson.dumps(error_body(err, request_id)), payment_id, code
        )
        unit = UnitOfWork()
        unit.payments.append(_row(payment_id, key, req, "FAILED", None, code, now))
        unit.idempotency.append(
            IdempotencyRow("pay", key, req.fingerprint, payment_id, reply.status, reply.body, now)
        )
        await self._commit(unit)
        return reply

    async def _charge(
        self, key: str, req: PaymentRequest, account: Account, request_id: str, facts: RequestFacts
    ) -> Reply:
        payment_id = new_id("pay")
        account.used += req.amount  # reserved: no other payment can spend it meanwhile
        self._uncommitted[payment_id] = _row(
            payment_id, key, req, "PENDING", None, None, utc_now_iso()
        )
        try:
            channel, outcome = await self._through_channels(key, facts)
        except BaseException:
            account.used -= req.amount
            del self._uncommitted[payment_id]
            raise
        if outcome == "failed":
            account.used -= req.amount
            del self._uncommitted[payment_id]
            raise GatewayError("CHANNEL_UNAVAILABLE")  # not recorded: a retry starts afresh
        now = utc_now_iso()
        unit = UnitOfWork()
        user, amount = req.user_id, req.amount
        if outcome == "ok":
            row = _row(payment_id, key, req, "SUCCEEDED", channel, None, now)
            reply = Reply(200, orjson.dumps(payment_view(row)), payment_id)
            stored = reply
            unit.ledger += [
                LedgerEntry(payment_id, f"user:{user}", amount, "capture", now),
                LedgerEntry(payment_id, f"merchant:{req.merchant_id}", -amount, "capture", now),
            ]
        else:
            # The channel may have charged: hold the credit until the payment settles.
            row = _row(payment_id, key, req, "PENDING", channel, None, now)
            pending = GatewayError("PAYMENT_PENDING", payment_id=payment_id)
            stored = Reply(
                202, orjson.dumps(error_body(pending, request_id)), payment_id, "PAYMENT_PENDING"
            )
            timeout = GatewayError("CHANNEL_TIMEOUT", payment_id=payment_id)
            reply = Reply(
                504, orjson.dumps(error_body(timeout, request_id)), payment_id, "CHANNEL_TIMEOUT"
            )
            unit.ledger += [
                LedgerEntry(payment_id, f"user:{user}", amount, "hold", now),
                LedgerEntry(payment_id, f"hold:{payment_id}", -amount, "hold", now),
            ]
        # Not durable yet: a query must not see it SUCCEEDED before the commit acknowledges it.
        self._uncommitted[payment_id] = _row(payment_id, key, req, "PENDING", channel, None, now)
        unit.payments.append(row)
        unit.account_deltas.append(AccountDelta(amount, user))
        unit.idempotency.append(
            IdempotencyRow("pay", key, req.fingerprint, payment_id, stored.status, stored.body, now)
        )
        await self._commit_within_deadline(unit, ("pay", key), payment_id, account, amount, facts)
        return reply

    async def _through_channels(self, key: str, facts: RequestFacts) -> tuple[str | None, str]:
        """("ok" | "timed_out" | "failed", the channel). A channel that refused is failed
        over (when the profile allows); one that timed out is not: it may have charged."""
        order = self.router.order(key)
        hang_s = self.chaos.hang_s(facts)
        if hang_s is not None:
            await asyncio.sleep(hang_s)
            return order[0], "timed_out"
        deadline_s = self.router.profile.channel_timeout_ms / 1000
        for name in order:
            channel = self.router.channels[name]
            if not channel.breaker.allow():
                continue
            slowdown = self.chaos.channel(facts, name)
            if channel.instant(slowdown):
                channel.breaker.record(True)
                return name, "ok"
            try:
                await channel.call(self._rng, slowdown, deadline_s)
            except ChannelFailed:
                channel.breaker.record(False)
                continue
            except ChannelTimedOut:
                channel.breaker.record(False)
                return name, "timed_out"
            channel.breaker.record(True)
            return name, "ok"
        return None, "failed"

    async def _commit_within_deadline(
        self,
        unit: UnitOfWork,
        claim: tuple[str, str],
        payment_id: str,
        account: Account,
        amount: int,
        facts: RequestFacts,
    ) -> None:
        """Wait for the commit up to the profile's db_timeout_ms (the writer's patience), then
        answer DB_TIMEOUT while the commit carries on: the payment's fate is then unknown to
        the client."""

        def committed(error: BaseException | None) -> None:
            self._uncommitted.pop(payment_id, None)
            if claim in self._detached:
                self._detached.discard(claim)
                self._in_flight.pop(claim, None)
            if error is not None:
                account.used -= amount  # nothing was written: the reservation goes

        unit.on_done = committed
        try:
            durable = await self._writer.submit(unit, deadline=True)
        except sqlite3.Error as exc:
            raise GatewayError("DB_TIMEOUT", detail=f"({exc})") from exc
        if not durable:
            if payment_id in self._uncommitted:  # not landed in the meantime
                self._detached.add(claim)  # replays stay "in progress" until the commit lands
            self.chaos.commit_late(facts)
            raise GatewayError("DB_TIMEOUT", payment_id=payment_id)

    async def _commit(self, unit: UnitOfWork) -> None:
        try:
            await self._writer.submit(unit)
        except sqlite3.Error as exc:
            # Nothing was committed: the client may replay the same key safely.
            raise GatewayError("DB_TIMEOUT", detail=f"({exc})") from exc

    # -- reverse and refund ------------------------------------------------------------------

    async def reverse(self, payment_id: str) -> Reply:
        async with self._payment_locks.hold(payment_id):
            row = self._settled_row(payment_id)
            view = payment_view(row)
            if view["status"] not in REVERSIBLE:
                return Reply(200, orjson.dumps(view), payment_id)
            was_pending = view["status"] == "PENDING"
            now = utc_now_iso()
            unit = UnitOfWork()
            release = _release(unit, view, "REVERSED", "reverse", now)
            if was_pending:
                # Its key still answered 202 PAYMENT_PENDING: from now on a replay says REVERSED.
                answer = IdempotencyUpdate(200, orjson.dumps(view), "pay", row.idempotency_key)
                unit.idempotency_updates.append(answer)
            await self._commit(unit)
            self.accounts[view["user_id"]].used -= release
            return Reply(200, orjson.dumps(view), payment_id)

    # -- settling uncertain payments ---------------------------------------------------------

    def due_pending(self, older_than_iso: str, limit: int = 500) -> list[str]:
        rows = self._reader.execute(
            "SELECT payment_id FROM payments WHERE status = 'PENDING' AND created_at <= ? LIMIT ?",
            (older_than_iso, limit),
        ).fetchall()
        return [r[0] for r in rows]

    async def settle(self, payment_id: str, success_share: float) -> str | None:
        """Resolve one PENDING payment as its channel finally did: captured or not. The key's
        stored response changes with it, so a replay tells the client the outcome."""
        async with self._payment_locks.hold(payment_id):
            row = self.payment_row(payment_id)
            if row is None or row.status != "PENDING":
                return None  # reversed (or settled) meanwhile
            view = payment_view(row)
            key = row.idempotency_key
            captured = draw(self._seed, "settle", key) < success_share
            now = utc_now_iso()
            unit = UnitOfWork()
            amount = view["amount"]
            if captured:
                view.update(status="SUCCEEDED", updated_at=now)
                unit.payment_updates.append(PaymentUpdate("SUCCEEDED", 0, None, now, payment_id))
                merchant = f"merchant:{view['merchant_id']}"
                unit.ledger += [
                    LedgerEntry(payment_id, f"hold:{payment_id}", amount, "capture", now),
                    LedgerEntry(payment_id, merchant, -amount, "capture", now),
                ]
                status, body = 200, orjson.dumps(view)
            else:
                _release(unit, view, "FAILED", "release", now, code="CHANNEL_UNAVAILABLE")
                err = GatewayError(
                    "CHANNEL_UNAVAILABLE",
                    payment_id=payment_id,
                    detail="(the channel did not complete the payment)",
                )
                status, body = err.spec.http_status, orjson.dumps(error_body(err, "settled"))
            unit.idempotency_updates.append(IdempotencyUpdate(status, body, "pay", key))
            await self._commit(unit)
            if not captured:
                self.accounts[view["user_id"]].used -= amount
            return "SUCCEEDED" if captured else "FAILED"

    async def refund(self, payment_id: str, key: str, req: RefundRequest, request_id: str) -> Reply:
        with self._claim("refund", key):
            stored = self._stored("refund", key, req.fingerprint)
            if stored is not None:
                return stored
            async with self._payment_locks.hold(payment_id):
                return await self._refund(payment_id, key, req)

    async def _refund(self, payment_id: str, key: str, req: RefundRequest) -> Reply:
        view = payment_view(self._settled_row(payment_id))
        # Conflicts with the payment as it stands, not malformed requests: 409, so that a
        # well-formed refund is never answered 400.
        if view["status"] not in REFUNDABLE:
            reason = f"payment is {view['status']}; only SUCCEEDED or PARTIALLY_REFUNDED"
            raise _conflict("PAYMENT_NOT_REFUNDABLE", payment_id, "payment_id", reason)
        refundable = view["amount"] - view["refunded"]
        if req.amount > refundable:
            reason = f"expected at most the refundable {refundable} fen, got {req.amount}"
            raise _conflict("REFUND_EXCEEDS_PAYMENT", payment_id, "amount", reason)
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
        user, merchant = f"user:{view['user_id']}", f"merchant:{view['merchant_id']}"
        unit.refunds.append(RefundRow(refund_id, payment_id, req.amount, now))
        unit.payment_updates.append(PaymentUpdate(status, refunded, view["code"], now, payment_id))
        unit.ledger.append(LedgerEntry(payment_id, user, -req.amount, "refund", now))
        unit.ledger.append(LedgerEntry(payment_id, merchant, req.amount, "refund", now))
        unit.account_deltas.append(AccountDelta(-req.amount, view["user_id"]))
        unit.idempotency.append(
            IdempotencyRow("refund", key, req.fingerprint, payment_id, 200, body, now)
        )
        await self._commit(unit)
        self.accounts[view["user_id"]].used -= req.amount
        return Reply(200, body, payment_id)


def _conflict(code: str, payment_id: str, field: str, reason: str) -> GatewayError:
    return GatewayError(code, fields=(FieldError(field, reason),), payment_id=payment_id)


def _release(
    unit: UnitOfWork,
    view: dict[str, Any],
    status: str,
    kind: str,
    now: str,
    code: str | None = None,
) -> int:
    """Entries that give back what a payment still holds or owes; returns the amount."""
    payment_id, user = view["payment_id"], view["user_id"]
    amount: int = view["amount"] - view["refunded"]
    book = (
        f"hold:{payment_id}" if view["status"] == "PENDING" else f"merchant:{view['merchant_id']}"
    )
    update = PaymentUpdate(status, view["refunded"], code or view["code"], now, payment_id)
    unit.payment_updates.append(update)
    unit.ledger += [
        LedgerEntry(payment_id, f"user:{user}", -amount, kind, now),
        LedgerEntry(payment_id, book, amount, kind, now),
    ]
    unit.account_deltas.append(AccountDelta(-amount, user))
    if code is not None:
        view["code"] = code
    view.update(status=status, updated_at=now)
    return amount


def _row(
    payment_id: str,
    key: str,
    req: PaymentRequest,
    status: str,
    channel: str | None,
    code: str | None,
    now: str,
) -> PaymentRow:
    return PaymentRow(
        payment_id=payment_id,
        idempotency_key=key,
        user_id=req.user_id,
        merchant_id=req.merchant_id,
        amount=req.amount,
        currency=req.currency,
        order_id=req.order_id,
        status=status,
        refunded=0,
        channel=channel,
        code=code,
        created_at=now,
        updated_at=now,
    )


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

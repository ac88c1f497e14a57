"""Group commit: every unit of work queued while the previous transaction was committing goes
into the next one, so one fsync acknowledges many payments.

A batch's statements run on the event loop's thread: they only touch SQLite's page cache and
take microseconds. Its COMMIT, which waits for the fsync, runs on the writer thread, with the
GIL released for the whole wait. Running the statements on the thread instead cost about a
third of the throughput: sqlite3 gives up the GIL around every row it steps, and each time the
thread wants it back it waits for the busy event loop to let go (up to the 5 ms switch
interval). Now the thread needs the GIL once per batch.

When another connection holds the write lock (a `db_stall` fault, a test), the loop does not
wait for it: that batch is handed whole to the thread, which waits up to the busy timeout."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from mock_gateway.rows import (
    AccountDelta,
    IdempotencyRow,
    IdempotencyUpdate,
    LedgerEntry,
    PaymentRow,
    PaymentUpdate,
    RefundRow,
    insert,
    update,
)

# A cap keeps one transaction short enough that the first payment in it is not kept waiting;
# batches form by themselves under load, no wait is added to gather them.
MAX_BATCH = 256
CACHE_KIB = 32 * 1024

CommitMode = Literal["group", "each"]
Done = Callable[[BaseException | None], None]


@dataclass(slots=True)
class UnitOfWork:
    """The rows one request writes; committed all together or not at all."""

    payments: list[PaymentRow] = field(default_factory=list)
    payment_updates: list[PaymentUpdate] = field(default_factory=list)
    refunds: list[RefundRow] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    idempotency: list[IdempotencyRow] = field(default_factory=list)
    account_deltas: list[AccountDelta] = field(default_factory=list)
    idempotency_updates: list[IdempotencyUpdate] = field(default_factory=list)
    on_done: Done | None = None
    """Called on the loop once the unit's transaction committed (None) or failed (the error),
    even when nobody waits for the answer any more."""


@dataclass(frozen=True, slots=True)
class WriterStats:
    commits: int
    units: int
    largest_batch: int


_STATEMENTS = (
    ("payments", insert("payments", PaymentRow)),
    ("payment_updates", update("payments", PaymentUpdate, where=1)),
    ("refunds", insert("refunds", RefundRow)),
    ("ledger", insert("ledger", LedgerEntry)),
    ("idempotency", insert("idempotency", IdempotencyRow)),
    ("idempotency_updates", update("idempotency", IdempotencyUpdate, where=2)),
    # Added to, not set: other payments of the account may have moved it since.
    ("account_deltas", "UPDATE accounts SET used = used + ? WHERE user_id = ?"),
)

Batch = list[tuple[UnitOfWork, "asyncio.Future[bool]"]]
_STOP = object()


class Writer:
    def __init__(
        self,
        conn: sqlite3.Connection,
        loop: asyncio.AbstractEventLoop,
        *,
        busy_timeout_ms: int,
        patience_s: float,
        commit: CommitMode = "group",
    ) -> None:
        self._conn = conn
        self._loop = loop
        self._busy_timeout_ms = busy_timeout_ms
        self._patience_s = patience_s
        self._max_batch = MAX_BATCH if commit == "group" else 1
        # The loop never waits for a lock: SQLITE_BUSY at once sends the batch to the thread.
        conn.execute("PRAGMA busy_timeout=0")
        # KiB. The default 2 MiB cache holds the upper levels of the indexes of a small ledger
        # only: with a million accounts, most payments' account update missed it. The reader
        # would gain nothing from a bigger one: every commit by this connection empties it.
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._pending: Batch = []
        self._committing = False
        self._flush_scheduled = False
        # Futures of units submitted with a deadline, in submission order: with one patience
        # for all, deadlines come in order too, and one timer serves them all.
        self._deadlines: deque[tuple[float, asyncio.Future[bool]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._drained: asyncio.Future[None] | None = None
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._commits = 0
        self._units = 0
        self._largest = 0
        self._thread.start()

    def submit(self, unit: UnitOfWork, *, deadline: bool = False) -> asyncio.Future[bool]:
        """Queue a unit. The future is True once its transaction is durable, or raises the
        sqlite3 error that rolled it back; with `deadline`, it is False when the commit has
        not landed within the writer's patience (the commit still goes on)."""
        fut: asyncio.Future[bool] = self._loop.create_future()
        self._pending.append((unit, fut))
        if deadline:
            when = self._loop.time() + self._patience_s
            self._deadlines.append((when, fut))
            if self._timer is None:
                self._timer = self._loop.call_at(when, self._expire)
        if not self._committing and not self._flush_scheduled:
            # Soon, not now: units submitted in the same loop iteration share the commit.
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return fut

    def stats(self) -> WriterStats:
        return WriterStats(self._commits, self._units, self._largest)

    async def close(self) -> None:
        """Commit everything already queued, then stop the thread."""
        if self._committing or self._pending:
            self._drained = self._loop.create_future()
            if not self._committing and not self._flush_scheduled:
                self._flush()
            await self._drained
        if self._timer is not None:
            self._timer.cancel()
        self._jobs.put(_STOP)
        self._thread.join()  # nothing left to commit: it stops at once

    # -- on the loop ------------------------------------------------------------------------

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._committing or not self._pending:
            return
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        self._committing = True
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                self._finished(batch, exc)
                return
            self._jobs.put((batch, True))  # locked by someone else: the thread waits for it
            return
        try:
            _write(conn, batch)
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            self._finished(batch, exc)
            return
        self._jobs.put((batch, False))

    def _finished(self, batch: Batch, error: BaseException | None) -> None:
        self._commits += 1
        self._units += len(batch)
        self._largest = max(self._largest, len(batch))
        for unit, fut in batch:
            if unit.on_done is not None:
                unit.on_done(error)
            if fut.done():  # timed out or cancelled: the waiter has gone
                continue
            if error is None:
                fut.set_result(True)
            else:
                fut.set_exception(error)
        deadlines = self._deadlines
        while deadlines and deadlines[0][1].done():
            deadlines.popleft()
        self._committing = False
        if self._pending:
            self._flush()
        elif self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _expire(self) -> None:
        now = self._loop.time()
        deadlines = self._deadlines
        while deadlines and (deadlines[0][0] <= now or deadlines[0][1].done()):
            fut = deadlines.popleft()[1]
            if not fut.done():
                fut.set_result(False)
        self._timer = self._loop.call_at(deadlines[0][0], self._expire) if deadlines else None

    # -- on the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        while (job := self._jobs.get()) is not _STOP:
            batch, whole = job
            error: BaseException | None = None
            try:
                if whole:
                    self._write_waiting(batch)
                else:
                    self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                error = exc
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            # RuntimeError: the loop closed under us, nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._finished, batch, error)

    def _write_waiting(self, batch: Batch) -> None:
        """The whole transaction, waiting up to the busy timeout for the lock."""
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
        try:
            conn.execute("BEGIN IMMEDIATE")
            _write(conn, batch)
            conn.execute("COMMIT")
        finally:
            conn.execute("PRAGMA busy_timeout=0")


def _write(conn: sqlite3.Connection, batch: Batch) -> None:
    for name, sql in _STATEMENTS:
        rows = [r for unit, _ in batch for r in getattr(unit, name)]
        if rows:
            conn.executemany(sql, rows)

"""One writer thread that group-commits: every unit of work queued while the previous
transaction was committing goes into the next one, so one fsync acknowledges many payments."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any

# A cap keeps one transaction short enough that the first payment in it is not kept waiting;
# batches form by themselves under load, no wait is added to gather them.
MAX_BATCH = 256

Row = tuple[Any, ...]


@dataclass(slots=True)
class UnitOfWork:
    """The rows one request writes; committed all together or not at all."""

    payments: list[Row] = field(default_factory=list)
    payment_updates: list[Row] = field(
        default_factory=list
    )  # (status, refunded, code, updated_at, payment_id)
    refunds: list[Row] = field(default_factory=list)
    ledger: list[Row] = field(default_factory=list)  # (payment_id, book, amount, kind, created_at)
    idempotency: list[Row] = field(default_factory=list)
    account_deltas: list[Row] = field(default_factory=list)  # (delta_used, user_id)
    idempotency_updates: list[Row] = field(default_factory=list)  # (status, body, route, key)


@dataclass(frozen=True, slots=True)
class WriterStats:
    commits: int
    units: int
    largest_batch: int


_STOP = object()


class Writer:
    def __init__(self, conn: sqlite3.Connection, loop: asyncio.AbstractEventLoop) -> None:
        self._conn = conn
        self._loop = loop
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._commits = 0
        self._units = 0
        self._largest = 0
        self._thread.start()

    def submit(self, unit: UnitOfWork) -> asyncio.Future[None]:
        """Queue a unit; the future resolves once its transaction is durable."""
        fut: asyncio.Future[None] = self._loop.create_future()
        self._queue.put((unit, fut))
        return fut

    def stats(self) -> WriterStats:
        return WriterStats(self._commits, self._units, self._largest)

    def close(self) -> None:
        """Commit everything already queued, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                batch.append(nxt)
            error: BaseException | None = None
            try:
                self._commit([unit for unit, _ in batch])
            except sqlite3.Error as exc:
                error = exc
            self._commits += 1
            self._units += len(batch)
            self._largest = max(self._largest, len(batch))
            futures = [fut for _, fut in batch]
            # RuntimeError: the loop closed under us, nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(_settle, futures, error)

    def _commit(self, units: list[UnitOfWork]) -> None:
        cur = self._conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            cur.executemany(
                "INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [r for u in units for r in u.payments],
            )
            cur.executemany(
                "UPDATE payments SET status=?, refunded=?, code=?, updated_at=? WHERE payment_id=?",
                [r for u in units for r in u.payment_updates],
            )
            cur.executemany(
                "INSERT INTO refunds VALUES (?, ?, ?, ?)", [r for u in units for r in u.refunds]
            )
            cur.executemany(
                "INSERT INTO ledger (payment_id, book, amount, kind, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [r for u in units for r in u.ledger],
            )
            cur.executemany(
                "INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?)",
                [r for u in units for r in u.idempotency],
            )
            cur.executemany(
                "UPDATE idempotency SET http_status = ?, body = ? WHERE route = ? AND key = ?",
                [r for u in units for r in u.idempotency_updates],
            )
            cur.executemany(
                "UPDATE accounts SET used = used + ? WHERE user_id = ?",
                [r for u in units for r in u.account_deltas],
            )
            cur.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        finally:
            cur.close()


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for fut in futures:
        if fut.done():
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)

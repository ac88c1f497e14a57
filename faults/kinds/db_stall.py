"""`db_stall`: a real exclusive write lock on the ledger file, held `hold_ms` every `every_ms`."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, ClassVar

import msgspec

from faults.engine import Active, Fault
from faults.kind import Kind, Params, register
from faults.ports import Gateway, RequestFacts


class DbStallParams(Params, frozen=True):
    """`hold_ms`: how long the lock is held; `every_ms`: how often it is taken (left out,
    or shorter than `hold_ms`: each hold starts as the last ends, for as long as the fault
    lasts)."""

    hold_ms: Annotated[float, msgspec.Meta(ge=1, le=600_000)]
    every_ms: Annotated[float, msgspec.Meta(ge=1, le=3_600_000)] | None = None


@register
class DbStall(Kind[DbStallParams]):
    """Another connection takes the ledger's exclusive write lock and holds it: every commit
    waits meanwhile (payments, reversals, refunds, settling)."""

    name = "db_stall"
    params_type = DbStallParams
    order = 90
    example: ClassVar[dict[str, Any]] = {
        "params": {"hold_ms": 3000, "every_ms": 10000},
        "start_in_s": 20,
        "duration_s": 35,
    }

    def activate(self, fault: Fault[DbStallParams], gateway: Gateway) -> Coroutine[Any, Any, None]:
        if gateway.ledger is None:
            raise RuntimeError("db_stall needs a host with a ledger")  # refused before: api.py
        stop = fault.kept = threading.Event()
        return _stall(fault.params, gateway.ledger, stop)

    def deactivate(self, fault: Fault[DbStallParams]) -> None:
        stop: threading.Event = fault.kept
        stop.set()  # the thread holding the lock lets go at once, not after hold_ms

    def commit_late(self, faults: Active[DbStallParams], facts: RequestFacts) -> None:
        for fault in faults:
            faults.hit(fault, facts)


async def _stall(params: DbStallParams, ledger: Path, stop: threading.Event) -> None:
    while not stop.is_set():
        started = time.monotonic()
        await asyncio.to_thread(hold_write_lock, ledger, params.hold_ms / 1000, stop)
        if params.every_ms is None:
            continue
        await asyncio.sleep(max(0.0, params.every_ms / 1000 - (time.monotonic() - started)))


def hold_write_lock(path: Path, hold_s: float, stop: threading.Event) -> None:
    """Take the database's exclusive write lock from another connection and hold it for
    `hold_s`, or until `stop` is set."""
    if stop.is_set():
        return
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        stop.wait(hold_s)
        conn.execute("ROLLBACK")
    finally:
        conn.close()

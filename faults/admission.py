"""Admission control: a limit on /v1 requests in flight, with a queue in front of it.

Shedding on: a request that finds the queue full is refused at once (503 SYSTEM_BUSY with
Retry-After). Shedding off: it waits however long it takes — its client may give up, and the
gateway still does the work when its turn comes, as real servers do."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from types import TracebackType

from contract.codes import GatewayError
from contract.profile import Capacity

Limits = Callable[[], tuple[int | None, int]]


class Shed(GatewayError):
    """Refused by load shedding (503 SYSTEM_BUSY); its own type so faults can claim it."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("SYSTEM_BUSY", retry_after_s=retry_after_s)


class Admission:
    def __init__(self, capacity: Capacity, limits: Limits | None = None) -> None:
        self._capacity = capacity
        # Faults may shrink the limits for a while; asked on every request.
        self._limits = limits or (lambda: (capacity.max_inflight, capacity.queue))
        self.inflight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.shed = 0

    def set_limits(self, limits: Limits) -> None:
        self._limits = limits

    def limits(self) -> tuple[int | None, int]:
        return self._limits()

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def slot(self) -> Admission:
        """`async with admission.slot():` holds one slot for the block. The admission itself
        is the context manager, so entering allocates nothing."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.leave()

    async def __aenter__(self) -> None:
        if self._waiters:
            self._wake()  # the limit may have grown since the last request left
        limit, queue = self._limits()
        if limit is None or (self.inflight < limit and not self._waiters):
            self.inflight += 1
            return
        if self._capacity.shedding and len(self._waiters) >= queue:
            self.shed += 1
            raise Shed(self._capacity.retry_after_s)
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # _wake gives us a slot: inflight already counts us
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # we were given a slot as we were cancelled: pass it on
            elif waiter in self._waiters:  # _wake may have dropped it already
                self._waiters.remove(waiter)
            raise

    def leave(self) -> None:
        """Give back a slot: at the end of `slot()`, or one taken without it (the proxy's lane
        admits with no limit set)."""
        self.inflight -= 1
        if self._waiters:
            self._wake()

    def _wake(self) -> None:
        """Give free slots to waiters, as many as the limit allows now: a capacity fault
        that shrank it lets slots disappear, and when it ends they all come back."""
        limit, _ = self._limits()
        while self._waiters and (limit is None or self.inflight < limit):
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.inflight += 1
                waiter.set_result(None)

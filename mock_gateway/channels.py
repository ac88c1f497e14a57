"""Payment channels: finite concurrency, a service time, a circuit breaker each; a router that
picks a channel by weight and fails over to the next healthy one."""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import time
from enum import IntEnum

from contract.profile import Breaker, ChannelSpec, Profile
from faults import Slowdown


class BreakerState(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """Closed → open after N consecutive failures → half-open after open_s (one probe)."""

    def __init__(self, spec: Breaker) -> None:
        self._spec = spec
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.state = BreakerState.CLOSED

    def allow(self) -> bool:
        if not self._spec.enabled or self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if time.monotonic() - self._opened_at < self._spec.open_s:
                return False
            self.state = BreakerState.HALF_OPEN
        if self._probing:
            return False
        self._probing = True
        return True

    def record(self, ok: bool) -> None:
        if not self._spec.enabled:
            return
        self._probing = False
        if ok:
            self._failures = 0
            self.state = BreakerState.CLOSED
            return
        self._failures += 1
        if self.state is BreakerState.HALF_OPEN or self._failures >= self._spec.failures:
            self.state = BreakerState.OPEN
            self._opened_at = time.monotonic()


class ChannelFailed(Exception):
    """The channel refused the payment (outage, error): nothing was charged."""


class ChannelTimedOut(Exception):
    """The channel did not answer in time: it may or may not have charged."""


class Channel:
    def __init__(self, spec: ChannelSpec, breaker: Breaker) -> None:
        self.spec = spec
        self.breaker = CircuitBreaker(breaker)
        self._slots = asyncio.Semaphore(spec.concurrency)
        self.busy = 0
        self.waiting = 0
        self._mu = math.log(spec.service_ms) - spec.jitter**2 / 2 if spec.service_ms > 0 else 0.0

    def service_s(self, rng: random.Random) -> float:
        if self.spec.service_ms <= 0:
            return 0.0
        if self.spec.jitter <= 0:
            return self.spec.service_ms / 1000
        # Lognormal with the configured mean: mu = ln(mean) - sigma^2 / 2.
        return rng.lognormvariate(self._mu, self.spec.jitter) / 1000

    def instant(self, slowdown: Slowdown) -> bool:
        """Whether a call would finish without waiting for anything (no service time, no
        fault, a free slot): then it can be skipped, as nothing of it would be seen."""
        return (
            self.spec.service_ms <= 0
            and not slowdown.fail
            and not slowdown.hang
            and slowdown.extra_ms <= 0
            and not self._slots.locked()
        )

    async def call(self, rng: random.Random, slowdown: Slowdown, deadline_s: float) -> None:
        """Charge through this channel; raises ChannelFailed or ChannelTimedOut."""
        if slowdown.fail:
            raise ChannelFailed(self.spec.name)
        try:
            async with asyncio.timeout(deadline_s):
                self.waiting += 1
                try:
                    await self._slots.acquire()
                finally:
                    self.waiting -= 1
                self.busy += 1
                try:
                    if slowdown.hang:
                        await asyncio.sleep(deadline_s + 1)
                    delay = self.service_s(rng) + slowdown.extra_ms / 1000
                    if delay > 0:
                        await asyncio.sleep(delay)
                finally:
                    self.busy -= 1
                    self._slots.release()
        except TimeoutError:
            raise ChannelTimedOut(self.spec.name) from None


class Router:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.channels = {c.name: Channel(c, profile.breaker) for c in profile.channels}
        self._others = {
            name: [c for other, c in self.channels.items() if other != name]
            for name in self.channels
        }
        weighted = [c for c in profile.channels if c.weight > 0]
        total = sum(c.weight for c in weighted)
        self._cumulative: list[tuple[float, str]] = []
        acc = 0.0
        for c in weighted:
            acc += c.weight / total
            self._cumulative.append((acc, c.name))

    def primary(self, key: str) -> str:
        """The channel a payment tries first: by weight, stable for its idempotency key."""
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        point = int.from_bytes(digest, "big") / 2**64
        return next(
            (name for edge, name in self._cumulative if point < edge), self._cumulative[-1][1]
        )

    def order(self, key: str) -> list[str]:
        """The primary first, then (with failover) the other channels, least loaded first,
        so a failed-over payment does not queue behind a full channel while another idles."""
        first = self.primary(key)
        if not self.profile.failover:
            return [first]
        others = self._others[first]
        if any(c.busy or c.waiting for c in others):  # all idle: the sort would keep the order
            others = sorted(others, key=lambda c: (c.busy + c.waiting) / c.spec.concurrency)
        return [first, *(c.spec.name for c in others)]

"""Token buckets for the `rate_limit` fault, global or per user."""

from __future__ import annotations

import math
import time


class TokenBucket:
    __slots__ = ("_last", "_rate", "_tokens")

    def __init__(self, rate_per_s: float) -> None:
        self._rate = rate_per_s
        self._tokens = max(1.0, rate_per_s)  # burst: one second's worth
        self._last = time.monotonic()

    def take(self) -> float | None:
        """None when allowed; else the seconds until a token is free (for Retry-After)."""
        now = time.monotonic()
        self._tokens = min(max(1.0, self._rate), self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self._rate


class Limiter:
    """Buckets keyed by fault and (for per-user limits) user; dropped with their fault."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def take(self, fault_id: str, rate_per_s: float, who: str) -> int | None:
        bucket = self._buckets.get((fault_id, who))
        if bucket is None:
            bucket = self._buckets[(fault_id, who)] = TokenBucket(rate_per_s)
        wait = bucket.take()
        return None if wait is None else max(1, math.ceil(wait))

    def forget(self, fault_id: str) -> None:
        for key in [k for k in self._buckets if k[0] == fault_id]:
            del self._buckets[key]

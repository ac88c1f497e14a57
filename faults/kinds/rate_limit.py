"""`rate_limit`: 429 RATE_LIMITED above `rps`, for everyone together or for each user."""

from __future__ import annotations

import math
import time
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from contract.codes import GatewayError
from faults.engine import Active, Fault
from faults.kind import Kind, Params, register
from faults.ports import Gateway, RequestFacts


class RateLimitParams(Params, frozen=True):
    """`rps` allowed per second (the burst: one second's worth); `per`: global (everyone
    together) or user (each user alone)."""

    rps: Annotated[float, msgspec.Meta(ge=0.001, le=1_000_000)]
    per: Literal["global", "user"] = "global"


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


class Buckets:
    """One fault's buckets: one for everyone, or one per user."""

    def __init__(self, rate_per_s: float) -> None:
        self._rate = rate_per_s
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, who: str) -> int | None:
        """None when allowed; else whole seconds to wait (at least 1)."""
        bucket = self._buckets.get(who)
        if bucket is None:
            bucket = self._buckets[who] = TokenBucket(self._rate)
        wait = bucket.take()
        return None if wait is None else max(1, math.ceil(wait))


@register
class RateLimit(Kind[RateLimitParams]):
    """Above the rate, `429 RATE_LIMITED` with Retry-After, on every attempt of a matching
    route; per user, only requests that name their user (the path or a payment's body)."""

    name = "rate_limit"
    params_type = RateLimitParams
    order = 40
    example: ClassVar[dict[str, Any]] = {
        "params": {"rps": 50, "per": "user"},
        "target": {"route": "pay"},
        "start_in_s": 10,
    }

    def activate(self, fault: Fault[RateLimitParams], gateway: Gateway) -> None:
        fault.kept = Buckets(fault.params.rps)

    async def edge(self, faults: Active[RateLimitParams], facts: RequestFacts) -> None:
        for fault in faults:
            params = fault.params
            if params.per == "user" and facts.user_id is None:
                continue
            if not faults.matches(fault, facts):
                continue
            buckets: Buckets = fault.kept
            wait_s = buckets.take(facts.user_id or "" if params.per == "user" else "*")
            if wait_s is not None:
                faults.hit(fault, facts)
                raise GatewayError("RATE_LIMITED", retry_after_s=wait_s)

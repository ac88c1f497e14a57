"""`rate_limit`: 429 RATE_LIMITED above `rps`, for everyone together or for each user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_gateway.faults.spec import Params, Reader, register


@register
@dataclass(frozen=True, slots=True)
class RateLimit(Params):
    KIND = "rate_limit"
    rps: float
    per: str = "global"

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> RateLimit:
        r = Reader(raw, "params", ("rps", "per"))
        return cls(
            rps=r.number("rps", low=0.001, high=1_000_000),
            per=r.choice("per", ("global", "user"), "global"),
        )

"""`timeout`: the request hangs `ms`, then 504 CHANNEL_TIMEOUT; a payment is left PENDING."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_gateway.faults.spec import Params, Reader, register


@register
@dataclass(frozen=True, slots=True)
class Timeout(Params):
    KIND = "timeout"
    ms: float

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Timeout:
        r = Reader(raw, "params", ("ms",))
        return cls(ms=r.number("ms", high=600_000))

"""`risk_strict`: over-sensitive risk control declines a share of good payments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_gateway.faults.spec import Params, Reader, register


@register
@dataclass(frozen=True, slots=True)
class RiskStrict(Params):
    KIND = "risk_strict"
    false_positive_rate: float

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> RiskStrict:
        r = Reader(raw, "params", ("false_positive_rate",))
        return cls(false_positive_rate=r.number("false_positive_rate", high=1.0))

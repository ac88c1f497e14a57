"""`db_stall`: a real exclusive write lock on the ledger file, held `hold_ms` every `every_ms`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_gateway.faults.spec import FaultSpecError, Params, Reader, register


@register
@dataclass(frozen=True, slots=True)
class DbStall(Params):
    KIND = "db_stall"
    hold_ms: float
    every_ms: float | None = None
    """None: one hold for as long as the fault lasts."""

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> DbStall:
        r = Reader(raw, "params", ("hold_ms", "every_ms"))
        hold = r.number("hold_ms", low=1, high=600_000)
        every = r.optional_number("every_ms", low=1, high=3_600_000)
        if every is not None and every < hold:
            raise FaultSpecError("params.every_ms", f"expected at least hold_ms ({hold:g})")
        return cls(hold_ms=hold, every_ms=every)

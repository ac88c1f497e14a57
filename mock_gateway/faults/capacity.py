"""`capacity`: shrink the admission limit (and its queue) while the fault lasts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_gateway.faults.spec import Params, Reader, register


@register
@dataclass(frozen=True, slots=True)
class CapacityFault(Params):
    KIND = "capacity"
    max_inflight: int
    queue: int | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> CapacityFault:
        r = Reader(raw, "params", ("max_inflight", "queue"))
        queue = r.optional_number("queue", integer=True, high=1_000_000)
        return cls(
            max_inflight=int(r.number("max_inflight", low=1, high=1_000_000, integer=True)),
            queue=None if queue is None else int(queue),
        )

"""`timeout`: the request hangs `ms`, then 504 CHANNEL_TIMEOUT; a payment is left PENDING."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from contract.codes import GatewayError
from faults.engine import Active
from faults.kind import Kind, Params, register
from faults.ports import RequestFacts
from faults.spec import Ms


class TimeoutParams(Params, frozen=True):
    """`ms`: how long the request hangs before its 504."""

    ms: Ms


@register
class Timeout(Kind[TimeoutParams]):
    """A payment's channel hangs (a replay too, before its stored answer); any other route
    hangs before it is handled."""

    name = "timeout"
    params_type = TimeoutParams
    order = 30
    example: ClassVar[dict[str, Any]] = {
        "params": {"ms": 5000},
        "target": {"route": "pay", "probability": 0.05},
        "start_in_s": 10,
        "duration_s": 30,
    }

    async def edge(self, faults: Active[TimeoutParams], facts: RequestFacts) -> None:
        if facts.route == "pay":
            return  # a payment hangs where its channel would be called: `hang`
        fault = faults.match(facts)
        if fault is None:
            return
        faults.hit(fault, facts)
        await asyncio.sleep(fault.params.ms / 1000)
        raise GatewayError("CHANNEL_TIMEOUT")

    def hang(self, faults: Active[TimeoutParams], facts: RequestFacts) -> float | None:
        fault = faults.match(facts)
        if fault is None:
            return None
        faults.hit(fault, facts)
        return fault.params.ms / 1000

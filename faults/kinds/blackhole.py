"""`blackhole`: the request is swallowed: no answer at all, its connection held open, then cut."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar

from faults.engine import Active, Fault
from faults.kind import Kind, Params, register
from faults.ports import Dropped, Gateway, RequestFacts
from faults.spec import Ms


class BlackholeParams(Params, frozen=True):
    """`hold_ms`: how long a request is held before its connection is cut (left out: until
    the fault ends). Nothing of the request is handled."""

    hold_ms: Ms | None = None


@register
class Blackhole(Kind[BlackholeParams]):
    """Every attempt of a matching route, before it is handled: the client hears nothing
    and decides by its own timeout; a payment never reaches the ledger."""

    name = "blackhole"
    params_type = BlackholeParams
    order = 5  # before anything else at the edge: a swallowed request waits for nothing else
    example: ClassVar[dict[str, Any]] = {
        "params": {"hold_ms": 10000},
        "target": {"route": "pay", "probability": 0.05},
        "start_in_s": 10,
        "duration_s": 20,
    }

    def activate(self, fault: Fault[BlackholeParams], gateway: Gateway) -> None:
        fault.kept = asyncio.Event()  # set when the window closes: every held request is cut

    def deactivate(self, fault: Fault[BlackholeParams]) -> None:
        ended: asyncio.Event | None = fault.kept
        if ended is not None:
            ended.set()

    async def edge(self, faults: Active[BlackholeParams], facts: RequestFacts) -> None:
        fault = faults.match(facts)
        if fault is None:
            return
        faults.hit(fault, facts)
        ended: asyncio.Event | None = fault.kept
        hold_s = None if fault.params.hold_ms is None else fault.params.hold_ms / 1000
        if ended is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), hold_s)
        raise Dropped

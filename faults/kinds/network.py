"""`network`: the request is handled, then its answer is cut, emptied, truncated or trickled."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from faults.engine import Active
from faults.kind import Kind, Params, register
from faults.ports import RequestFacts, Reshape
from faults.spec import Ms


class NetworkParams(Params, frozen=True):
    """reset: the connection is cut; empty: 200 with no body; malformed: a truncated body;
    slow_body: the body trickles out over `slow_ms`."""

    mode: Literal["reset", "empty", "malformed", "slow_body"]
    slow_ms: Ms = 2000.0


@register
class Network(Kind[NetworkParams]):
    """Every attempt of a matching route, replays included; after a lost answer there is
    nothing left to break."""

    name = "network"
    params_type = NetworkParams
    order = 110
    example: ClassVar[dict[str, Any]] = {
        "params": {"mode": "reset"},
        "target": {"probability": 0.02},
        "start_in_s": 15,
        "duration_s": 40,
        "seed": 11,
    }

    def respond(self, faults: Active[NetworkParams], facts: RequestFacts) -> Reshape | None:
        fault = faults.match(facts)
        if fault is None:
            return None
        faults.hit(fault, facts)
        return Reshape(fault.params.mode, fault.params.slow_ms)

"""`lost_response`: the request is handled (a payment, reversal or refund committed), then the
connection is dropped: the client never hears of it."""

from __future__ import annotations

from typing import Any, ClassVar

from faults.engine import Active
from faults.kind import Kind, Params, register
from faults.ports import RequestFacts, Reshape

LOST = Reshape("lost")


class LostResponseParams(Params, frozen=True):
    """No params."""


@register
class LostResponse(Kind[LostResponseParams]):
    """Every attempt of a matching route, replays included: a client that only replays can
    lose every answer."""

    name = "lost_response"
    params_type = LostResponseParams
    order = 100  # before `network`: a lost answer is not broken as well
    example: ClassVar[dict[str, Any]] = {
        "target": {"route": "pay", "probability": 0.01},
        "start_in_s": 15,
        "duration_s": 40,
    }

    def respond(self, faults: Active[LostResponseParams], facts: RequestFacts) -> Reshape | None:
        fault = faults.match(facts)
        if fault is None:
            return None
        faults.hit(fault, facts)
        return LOST

"""`capacity`: shrink the admission limit (and its queue) while the fault lasts."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import msgspec

from faults.engine import Active
from faults.kind import Kind, Params, register
from faults.ports import Limits, RequestFacts


class CapacityParams(Params, frozen=True):
    """`max_inflight`: /v1 requests handled at once; `queue`: requests that may wait."""

    max_inflight: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    queue: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] | None = None


@register
class Capacity(Kind[CapacityParams]):
    """Every `/v1` request, replays included, meets the smaller limits."""

    name = "capacity"
    params_type = CapacityParams
    order = 80
    example: ClassVar[dict[str, Any]] = {
        "params": {"max_inflight": 16, "queue": 8},
        "start_in_s": 30,
        "duration_s": 10,
    }

    def limits(self, faults: Active[CapacityParams], limits: Limits) -> Limits:
        limit, queue = limits
        for fault in faults:
            params = fault.params
            limit = params.max_inflight if limit is None else min(limit, params.max_inflight)
            if params.queue is not None:
                queue = min(queue, params.queue)
        return limit, queue

    def shed(self, faults: Active[CapacityParams], facts: RequestFacts) -> None:
        """Mark the faults that shrank the limits the request was refused by."""
        cap = faults.gateway.profile.capacity
        for fault in faults:
            params = fault.params
            smaller = cap.max_inflight is None or params.max_inflight < cap.max_inflight
            if smaller or (params.queue is not None and params.queue < cap.queue):
                faults.hit(fault, facts)

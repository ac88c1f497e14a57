"""`error`: a catalogue error instead of handling the request."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import msgspec

from contract.codes import CATALOGUE, GatewayError
from faults.engine import Active
from faults.kind import Kind, Params, register
from faults.ports import RequestFacts
from faults.spec import Share, not_one_of

# A success or a pending result is not an error to inject.
INJECTABLE = tuple(code for code, spec in CATALOGUE.items() if spec.http_status >= 400)
# Errors whose answer tells the client when to come back.
WITH_RETRY_AFTER = ("SYSTEM_BUSY", "RATE_LIMITED")


class ErrorParams(Params, frozen=True):
    """`code` from the catalogue (HTTP status 400 or above); `rate` the share of matching
    requests that get it."""

    code: Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(INJECTABLE)})]
    rate: Share = 1.0


@register
class Error(Kind[ErrorParams]):
    """That error instead of handling the request; nothing is recorded."""

    name = "error"
    params_type = ErrorParams
    order = 20
    example: ClassVar[dict[str, Any]] = {
        "params": {"code": "SYSTEM_BUSY", "rate": 0.2},
        "target": {"route": "pay"},
        "start_in_s": 10,
        "duration_s": 30,
    }

    def check(self, params: ErrorParams) -> None:
        if params.code not in INJECTABLE:
            raise not_one_of("params.code", INJECTABLE, params.code)

    async def edge(self, faults: Active[ErrorParams], facts: RequestFacts) -> None:
        fault = faults.match(facts)
        if fault is None:
            return
        params = fault.params
        if params.rate >= 1.0 or faults.chance(fault, "error", facts.key) < params.rate:
            faults.hit(fault, facts)
            capacity = faults.gateway.profile.capacity
            retry_after = capacity.retry_after_s if params.code in WITH_RETRY_AFTER else None
            raise GatewayError(params.code, retry_after_s=retry_after, detail="(injected)")

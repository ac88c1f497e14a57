"""`error`: a catalogue error instead of handling the request."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import msgspec

from contract.codes import CATALOGUE, GatewayError
from contract.routes import PAY
from faults.engine import Active, Fault
from faults.kind import Kind, Params, register
from faults.ports import Answer, RequestFacts, Verdict
from faults.spec import FaultSpecError, Share, not_one_of

# A success or a pending result is not an error to inject.
INJECTABLE = tuple(code for code, spec in CATALOGUE.items() if spec.http_status >= 400)
# A decline (402) or refusal (403) is the gateway's decision about a new payment, made once:
# the payment is recorded FAILED with it and a replay of its key gets that stored answer. Sent
# instead at the edge, a replay of a payment that was captured would be told "declined" and a
# client that resolves would trust it and leave the person charged.
DECISIONS = frozenset(code for code in INJECTABLE if CATALOGUE[code].http_status in (402, 403))
# Errors whose answer tells the client when to come back.
WITH_RETRY_AFTER = ("SYSTEM_BUSY", "RATE_LIMITED")


JSON = "application/json"


class ErrorParams(Params, frozen=True):
    """Exactly one of: `code` from the catalogue (HTTP status 400 or above), answered with the
    catalogue's body; or `status` (400 to 599), answered with `body` and `content_type` as
    given, for a service of another API behind the fault proxy. `rate`: the share of
    matching requests that get it."""

    code: Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(INJECTABLE)})] | None = None
    status: Annotated[int, msgspec.Meta(ge=400, le=599)] | None = None
    body: Annotated[str, msgspec.Meta(max_length=65_536)] = ""
    content_type: Annotated[str, msgspec.Meta(pattern=r"^[\x20-\x7e]{1,200}$")] = JSON
    rate: Share = 1.0


@register
class Error(Kind[ErrorParams]):
    """That error instead of handling the request; nothing is recorded. A decision code on
    the pay route declines the new payment instead (recorded; its replays get it)."""

    name = "error"
    params_type = ErrorParams
    order = 20
    example: ClassVar[dict[str, Any]] = {
        "params": {"code": "SYSTEM_BUSY", "rate": 0.2},
        "target": {"route": "pay"},
        "start_in_s": 10,
        "duration_s": 30,
    }

    # Exactly one of code and status, given and not null; a body of its own only with status.
    rules: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {
                "required": ["code"],
                "properties": {
                    "code": {"type": "string"},
                    "status": {"type": "null"},
                    "body": {"maxLength": 0},
                    "content_type": {"const": JSON},
                },
            },
            {
                "required": ["status"],
                "properties": {"status": {"type": "integer"}, "code": {"type": "null"}},
            },
        ]
    }

    def check(self, params: ErrorParams) -> None:
        if (params.code is None) == (params.status is None):
            raise FaultSpecError("params.code", "expected exactly one of code or status")
        if params.code is not None and params.code not in INJECTABLE:
            raise not_one_of("params.code", INJECTABLE, params.code)
        if params.code is not None and (params.body or params.content_type != JSON):
            raise FaultSpecError("params.body", "expected body and content_type only with status")

    async def edge(self, faults: Active[ErrorParams], facts: RequestFacts) -> None:
        fault = _first(faults, facts, decisions=False)
        if fault is None:
            return
        params = fault.params
        if _drawn(faults, fault, facts):
            if params.code is None:
                raise Answer(params.status or 500, params.body.encode(), params.content_type)
            capacity = faults.gateway.profile.capacity
            retry_after = capacity.retry_after_s if params.code in WITH_RETRY_AFTER else None
            raise GatewayError(params.code, retry_after_s=retry_after, detail="(injected)")

    async def decide(self, faults: Active[ErrorParams], facts: RequestFacts) -> Verdict | None:
        fault = _first(faults, facts, decisions=True)
        if fault is not None and _drawn(faults, fault, facts):
            return Verdict(fault.params.code)
        return None


def _first(
    faults: Active[ErrorParams], facts: RequestFacts, *, decisions: bool
) -> Fault[ErrorParams] | None:
    """The first fault that hits this request at the stage asking: the decision stage takes
    the pay route's decision codes, the edge everything else."""
    for fault in faults:
        decided = fault.params.code in DECISIONS and facts.route == PAY.name
        if decided == decisions and faults.matches(fault, facts):
            return fault
    return None


def _drawn(faults: Active[ErrorParams], fault: Fault[ErrorParams], facts: RequestFacts) -> bool:
    """Whether this request is among the `rate` the fault hits (counted as hit)."""
    rate = fault.params.rate
    if rate >= 1.0 or faults.chance(fault, "error", facts.key) < rate:
        faults.hit(fault, facts)
        return True
    return False

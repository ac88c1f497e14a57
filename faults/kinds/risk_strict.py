"""`risk_strict`: over-sensitive risk control declines a share of good payments."""

from __future__ import annotations

from typing import Any, ClassVar

from faults.engine import Active
from faults.kind import Kind, Params, register
from faults.ports import RISK_RULE, RequestFacts, Verdict
from faults.spec import Share

DECLINED = Verdict("RISK_DECLINED")


class RiskStrictParams(Params, frozen=True):
    """`false_positive_rate`: the share of good payments risk control declines."""

    false_positive_rate: Share


@register
class RiskStrict(Kind[RiskStrictParams]):
    """`402 RISK_DECLINED`, recorded FAILED; new payments only (a replay keeps its stored
    decision)."""

    name = "risk_strict"
    params_type = RiskStrictParams
    order = RISK_RULE + 5  # on top of what the gateway's own risk control declines
    example: ClassVar[dict[str, Any]] = {
        "params": {"false_positive_rate": 0.1},
        "start_in_s": 20,
        "duration_s": 30,
        "seed": 7,
    }

    async def decide(self, faults: Active[RiskStrictParams], facts: RequestFacts) -> Verdict | None:
        fault = faults.match(facts)
        if fault is None:
            return None
        if faults.chance(fault, "risk", facts.key) < fault.params.false_positive_rate:
            faults.hit(fault, facts)
            return DECLINED
        return None

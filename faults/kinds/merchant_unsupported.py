"""`merchant_unsupported`: merchants whose credit-pay integration is off or broken."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import msgspec

from faults.engine import Active, draw
from faults.kind import Kind, Params, register
from faults.ports import RequestFacts, Verdict
from faults.spec import FaultSpecError, Share

REFUSED = Verdict("MERCHANT_NOT_SUPPORTED")
MerchantId = Annotated[str, msgspec.Meta(min_length=1)]


class MerchantUnsupportedParams(Params, frozen=True):
    """Exactly one of: `merchant_ids`, those merchants; or `share` of all merchants, drawn
    by the fault's seed."""

    share: Share | None = None
    merchant_ids: Annotated[tuple[MerchantId, ...], msgspec.Meta(min_length=1)] | None = None


@register
class MerchantUnsupported(Kind[MerchantUnsupportedParams]):
    """`403 MERCHANT_NOT_SUPPORTED` for those merchants' new payments; a replay keeps its
    stored decision."""

    name = "merchant_unsupported"
    params_type = MerchantUnsupportedParams
    order = 50
    example: ClassVar[dict[str, Any]] = {
        "params": {"merchant_ids": ["m00003", "m00007"]},
        "start_in_s": 15,
        "duration_s": 40,
    }

    # Exactly one of the two, given and not null.
    rules: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {"required": ["share"], "properties": {"share": {"type": "number"}}},
            {"required": ["merchant_ids"], "properties": {"merchant_ids": {"type": "array"}}},
        ]
    }

    def check(self, params: MerchantUnsupportedParams) -> None:
        if (params.share is None) == (params.merchant_ids is None):
            raise FaultSpecError("params.share", "expected exactly one of share or merchant_ids")

    async def decide(
        self, faults: Active[MerchantUnsupportedParams], facts: RequestFacts
    ) -> Verdict | None:
        fault = faults.match(facts)
        if fault is None:
            return None
        params = fault.params
        if params.merchant_ids is not None:
            refused = facts.merchant_id in params.merchant_ids
        else:
            # Keyed on the merchant, not the payment: a merchant is broken for everyone.
            share = params.share or 0.0
            refused = draw(fault.spec.seed, "merchant", facts.merchant_id or "") < share
        if not refused:
            return None
        faults.hit(fault, facts)
        return REFUSED

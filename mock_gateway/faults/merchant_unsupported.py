"""`merchant_unsupported`: merchants whose credit-pay integration is off or broken."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_gateway.faults.spec import FaultSpecError, Params, Reader, register


@register
@dataclass(frozen=True, slots=True)
class MerchantUnsupported(Params):
    """`merchant_ids` exactly those; or `share` of all merchants, drawn by the fault's seed."""

    KIND = "merchant_unsupported"
    share: float | None = None
    merchant_ids: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> MerchantUnsupported:
        r = Reader(raw, "params", ("share", "merchant_ids"))
        ids = r.raw.get("merchant_ids")
        share = r.optional_number("share", high=1.0)
        if ids is not None and (
            not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids)
        ):
            raise FaultSpecError("params.merchant_ids", "expected a list of merchant ids")
        if (share is None) == (ids is None):
            raise FaultSpecError("params.share", "expected exactly one of share or merchant_ids")
        return cls(share=share, merchant_ids=tuple(ids or ()))

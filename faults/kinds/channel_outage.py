"""`channel_outage`: one payment channel fails fast, hangs, or slows down."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec

from contract.profile import CHANNEL_NAMES
from faults.engine import Active
from faults.kind import Kind, Params, register
from faults.ports import RequestFacts, Slowdown
from faults.spec import Ms, not_one_of


class ChannelOutageParams(Params, frozen=True):
    """`mode`: error (refuses at once), blackhole (never answers: the gateway's channel
    timeout decides), slow (adds `slow_ms` to every call)."""

    channel: Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(CHANNEL_NAMES)})]
    mode: Literal["error", "blackhole", "slow"] = "error"
    slow_ms: Ms = 1000.0


@register
class ChannelOutage(Kind[ChannelOutageParams]):
    """New payments sent to that channel; a replay never reaches one."""

    name = "channel_outage"
    params_type = ChannelOutageParams
    order = 70
    example: ClassVar[dict[str, Any]] = {
        "params": {"channel": "bank_a", "mode": "slow", "slow_ms": 2000},
        "start_in_s": 20,
        "duration_s": 30,
    }

    def check(self, params: ChannelOutageParams) -> None:
        if params.channel not in CHANNEL_NAMES:
            raise not_one_of("params.channel", CHANNEL_NAMES, params.channel)

    def channel(
        self, faults: Active[ChannelOutageParams], facts: RequestFacts, channel: str
    ) -> Slowdown | None:
        for fault in faults:
            params = fault.params
            if params.channel != channel or not faults.matches(fault, facts, channel):
                continue
            faults.hit(fault, facts)
            if params.mode == "error":
                return Slowdown(fail=True, fault_id=fault.id)
            if params.mode == "blackhole":
                return Slowdown(hang=True, fault_id=fault.id)
            return Slowdown(extra_ms=params.slow_ms, fault_id=fault.id)
        return None

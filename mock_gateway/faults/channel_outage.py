"""`channel_outage`: one payment channel fails fast, hangs, or slows down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contract.profile import CHANNEL_NAMES
from mock_gateway.faults.spec import Params, Reader, register

MODES = ("error", "blackhole", "slow")


@register
@dataclass(frozen=True, slots=True)
class ChannelOutage(Params):
    """`mode`: error (refuses at once), blackhole (never answers: the gateway's channel
    timeout decides), slow (adds `slow_ms` to every call)."""

    KIND = "channel_outage"
    channel: str
    mode: str = "error"
    slow_ms: float = 0.0

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ChannelOutage:
        r = Reader(raw, "params", ("channel", "mode", "slow_ms"))
        mode = r.choice("mode", MODES, "error")
        return cls(
            channel=r.choice("channel", CHANNEL_NAMES),
            mode=mode,
            slow_ms=r.number("slow_ms", 1000.0 if mode == "slow" else 0.0, high=600_000),
        )

"""`network` and `lost_response`: the request is handled, then its response is broken or lost
(the middleware's last stage, for every routed request)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_gateway.faults.spec import Params, Reader, register

MODES = ("reset", "empty", "malformed", "slow_body")


@register
@dataclass(frozen=True, slots=True)
class Network(Params):
    """reset: the connection is cut; empty: 200 with no body; malformed: a truncated body;
    slow_body: the body trickles out over `slow_ms`."""

    KIND = "network"
    mode: str
    slow_ms: float = 2000.0

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Network:
        r = Reader(raw, "params", ("mode", "slow_ms"))
        return cls(mode=r.choice("mode", MODES), slow_ms=r.number("slow_ms", 2000.0, high=600_000))


@register
@dataclass(frozen=True, slots=True)
class LostResponse(Params):
    """The request is handled (a payment, reversal or refund committed), then the connection
    is dropped: the client never hears of it. Every attempt of a matching route, replays too."""

    KIND = "lost_response"

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> LostResponse:
        Reader(raw, "params", ())
        return cls()

"""What the fault kinds and the gateway they act on pass each other, stage by stage: small
types the gateway fills in or acts upon. None of them names a kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from contract.profile import Profile


@dataclass(frozen=True, slots=True)
class Gateway:
    """The gateway a fault acts on, as far as kinds may look."""

    profile: Profile
    ledger: Path | None = None
    """The ledger's database file: a stall takes its write lock from another connection
    (None: a host without a ledger, the fault proxy)."""


@dataclass(slots=True)
class RequestFacts:
    """What faults can target in one request; filled in as the request is understood."""

    route: str
    key: str
    user_id: str | None = None
    merchant_id: str | None = None
    path: str = ""
    """The request's path, for a `target.path`."""
    fault_ids: list[str] = field(default_factory=list)

    def shaped_by(self, fault_id: str) -> None:
        if fault_id not in self.fault_ids:
            self.fault_ids.append(fault_id)


class Dropped(Exception):
    """Raised at the edge by a fault that answers a request by cutting its connection."""


class Answer(Exception):
    """Raised at the edge by a fault that answers with a status and body of its own instead
    of the catalogue's (an upstream behind the fault proxy may speak another API)."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type


Limits = tuple[int | None, int]
"""Admission's (requests handled at once, None: no limit; requests that may wait)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A kind's say on a new payment at the decision stage; no later check runs after it."""

    decline: str | None
    """The catalogue code it is declined with; None: approved."""


APPROVED = Verdict(None)


@dataclass(frozen=True, slots=True)
class Rule:
    """One of the gateway's own checks of a new payment, placed among the kinds' decisions."""

    order: int
    check: Callable[[RequestFacts], str | None]


RISK_RULE = 60
"""The place of the gateway's own risk control (its profile's false-positive rate) along the
payment decision: a kind whose `order` is lower acts on the payment before risk control has
spoken (and may speak for it); a higher one after."""


@dataclass(frozen=True, slots=True)
class Slowdown:
    """What faults do to a channel call: extra time, a hang, or a fast failure."""

    extra_ms: float = 0.0
    hang: bool = False
    fail: bool = False
    fault_id: str | None = None


NO_SLOWDOWN = Slowdown()

ReshapeMode = Literal["lost", "reset", "empty", "malformed", "slow_body"]


@dataclass(frozen=True, slots=True)
class Reshape:
    """What becomes of a handled request's answer on its way back. lost: the connection is
    dropped whatever the answer; reset: cut instead of sent; empty: 200 with no body;
    malformed: a truncated body; slow_body: the body trickles out over `slow_ms`."""

    mode: ReshapeMode
    slow_ms: float = 0.0

"""A fault as frozen data (what faults/parse.py makes of the chaos API's JSON), and the field
types and refusals every kind's params share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

import msgspec

from contract.profile import CHANNEL_NAMES
from contract.routes import ROUTE_NAMES
from contract.validate import InputError

MAX_MS = 600_000
Ms = Annotated[float, msgspec.Meta(ge=0, le=MAX_MS)]
"""A time in params: 0 to 600,000 ms."""
Share = Annotated[float, msgspec.Meta(ge=0, le=1)]
"""A share or a probability: 0 to 1."""


class FaultSpecError(InputError):
    """A fault spec that does not hold; `field` names the first bad field (`params.ms`)."""


def shown(value: Any) -> str:
    """A refused value as messages show it (as contract/validate.py does)."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def not_one_of(where: str, options: tuple[str, ...], got: Any) -> FaultSpecError:
    return FaultSpecError(where, f"expected one of {', '.join(options)}, got {shown(got)}")


MAX_DURATION_S = 7 * 24 * 3600.0
Seconds = Annotated[float, msgspec.Meta(ge=0, le=MAX_DURATION_S)]
Id = Annotated[str, msgspec.Meta(min_length=1)]

P = TypeVar("P")


class FaultTarget(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which requests a fault applies to; every given field must match."""

    route: Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(ROUTE_NAMES)})] | None = None
    channel: (
        Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(CHANNEL_NAMES)})] | None
    ) = None
    """A payment channel of the gateway's profile (every profile has them all)."""
    merchant_id: Id | None = None
    user_id: Id | None = None
    path: Annotated[str, msgspec.Meta(pattern="^/", max_length=2048)] | None = None
    """Requests whose path starts with this (`/v1/payment_intents`): for a service behind the
    fault proxy that does not speak the gateway's routes."""
    probability: Share = 1.0
    min_inflight: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0
    """Armed only while at least this many requests are in flight."""


@dataclass(frozen=True, slots=True)
class FaultSpec(Generic[P]):
    kind: str
    params: P
    target: FaultTarget = field(default_factory=FaultTarget)
    start_in_s: float = 0.0
    duration_s: float | None = None
    """None: until removed."""
    seed: int = 0
    raw_params: dict[str, Any] = field(default_factory=dict, compare=False)

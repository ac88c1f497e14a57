"""A fault as the chaos API and scenarios give it, parsed into a FaultSpec at the edge:
`{"kind", "params", "target", "start_in_s", "duration_s", "seed"}`, the params checked by
the kind's own module; a bad field raises FaultSpecError naming it (the API answers 400)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from contract.routes import ROUTE_NAMES
from contract.validate import InputError, convert, whole_numbers
from faults.kind import REGISTRY
from faults.spec import (
    MAX_DURATION_S,
    FaultSpec,
    FaultSpecError,
    FaultTarget,
    Seconds,
    not_one_of,
    shown,
)


class Envelope(msgspec.Struct, forbid_unknown_fields=True):
    """A spec's fields beside its kind's params; faults/schema.py builds the document's
    fault spec from them, so the document and this parser keep one set of rules."""

    kind: Any = None
    params: Any = None
    target: FaultTarget | None = None
    start_in_s: Seconds = 0.0
    duration_s: Annotated[float, msgspec.Meta(ge=0.001, le=MAX_DURATION_S)] | None = None
    """None: until removed."""
    seed: Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)] = 0


def parse_fault(raw: Any, channels: tuple[str, ...]) -> FaultSpec[Any]:
    """A fault from its JSON form; raises FaultSpecError naming the first bad field."""
    # 100.0 is a whole number to JSON Schema, and so to the chaos API's document.
    raw = {} if raw is None else whole_numbers(raw)
    if not isinstance(raw, dict):
        raise FaultSpecError("body", f"expected an object, got {shown(raw)}")
    kind_name = raw.get("kind")
    # A list or an object is unhashable: look it up only as a string.
    kind = REGISTRY.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        known = ", ".join(sorted(REGISTRY))
        raise FaultSpecError("kind", f"expected one of {known}, got {shown(kind_name)}")
    params_raw = raw.get("params")
    params_raw = {} if params_raw is None else params_raw  # a list or 0 is no object either
    params = kind.parse(params_raw)
    try:
        envelope = convert(raw, Envelope)
    except InputError as exc:
        raise FaultSpecError(exc.field, exc.reason) from None
    target = envelope.target or FaultTarget()
    if target.route is not None and target.route not in ROUTE_NAMES:
        raise not_one_of("target.route", ROUTE_NAMES, target.route)
    if target.channel is not None and target.channel not in channels:
        raise not_one_of("target.channel", channels, target.channel)
    return FaultSpec(
        kind=kind.name,
        params=params,
        target=target,
        start_in_s=envelope.start_in_s,
        duration_s=envelope.duration_s,
        seed=envelope.seed,
        raw_params=dict(params_raw),
    )

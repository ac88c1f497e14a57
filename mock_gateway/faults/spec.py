"""A fault as the chaos API and scenarios give it, parsed into frozen data at the edge.

Each kind's params live in a small module of their own (like Toxiproxy's toxics/) and register
here; a bad field raises FaultSpecError naming it, which the API answers with a 400."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contract.routes import ROUTE_NAMES


class FaultSpecError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Params:
    """Base of every kind's params; `parse` validates a mapping into the frozen subclass."""

    KIND = ""

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Params:
        raise NotImplementedError


REGISTRY: dict[str, type[Params]] = {}


def register(cls: type[Params]) -> type[Params]:
    REGISTRY[cls.KIND] = cls
    return cls


class Reader:
    """Typed reads of one mapping, every error naming `prefix.field`."""

    def __init__(self, raw: Any, prefix: str, allowed: tuple[str, ...]) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise FaultSpecError(prefix or "body", f"expected an object, got {type(raw).__name__}")
        self.raw = raw
        self.prefix = prefix
        for key in raw:
            if key not in allowed:
                known = ", ".join(allowed) or "none"
                raise FaultSpecError(self.where(str(key)), f"unknown field; known: {known}")

    def where(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def number(
        self,
        name: str,
        default: float | None = None,
        *,
        low: float = 0.0,
        high: float = math.inf,
        integer: bool = False,
    ) -> float:
        value = self.raw.get(name, default)
        where = self.where(name)
        if value is None:
            raise FaultSpecError(where, "required")
        kind = "an integer" if integer else "a number"
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok or not math.isfinite(value):
            raise FaultSpecError(where, f"expected {kind}, got {value!r}")
        if not low <= value <= high:
            bounds = f"{low:g}..{high:g}" if high != math.inf else f">= {low:g}"
            raise FaultSpecError(where, f"expected {kind} {bounds}, got {value!r}")
        return float(value)

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        """An integer kept exact (a float holds only 53 bits: large seeds would change)."""
        self.number(name, default, low=low, high=high, integer=True)
        return int(self.raw.get(name, default))

    def optional_number(self, name: str, **kw: Any) -> float | None:
        return None if self.raw.get(name) is None else self.number(name, **kw)

    def choice(self, name: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.raw.get(name, default)
        if value not in options:
            raise FaultSpecError(
                self.where(name), f"expected one of {', '.join(options)}, got {value!r}"
            )
        return str(value)

    def string(self, name: str, *, required: bool = False) -> str | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise FaultSpecError(self.where(name), "required")
            return None
        if not isinstance(value, str) or not value:
            raise FaultSpecError(self.where(name), f"expected a string, got {value!r}")
        return value


@dataclass(frozen=True, slots=True)
class Target:
    """Which requests a fault applies to; every given field must match."""

    route: str | None = None
    channel: str | None = None
    merchant_id: str | None = None
    user_id: str | None = None
    probability: float = 1.0
    min_inflight: int = 0
    """Armed only while at least this many requests are in flight."""

    @classmethod
    def parse(cls, raw: Any, channels: tuple[str, ...]) -> Target:
        r = Reader(
            raw,
            "target",
            ("route", "channel", "merchant_id", "user_id", "probability", "min_inflight"),
        )
        route = None if r.raw.get("route") is None else r.choice("route", ROUTE_NAMES)
        channel = None if r.raw.get("channel") is None else r.choice("channel", channels)
        return cls(
            route=route,
            channel=channel,
            merchant_id=r.string("merchant_id"),
            user_id=r.string("user_id"),
            probability=r.number("probability", 1.0, high=1.0),
            min_inflight=int(r.number("min_inflight", 0, integer=True)),
        )


@dataclass(frozen=True, slots=True)
class FaultSpec:
    kind: str
    params: Params
    target: Target = Target()
    start_in_s: float = 0.0
    duration_s: float | None = None
    """None: until removed."""
    seed: int = 0
    raw_params: dict[str, Any] = field(default_factory=dict, compare=False)


MAX_DURATION_S = 7 * 24 * 3600.0


def parse_fault(
    raw: Any, channels: tuple[str, ...], checks: Callable[[FaultSpec], None] | None = None
) -> FaultSpec:
    """A fault from its JSON form; raises FaultSpecError naming the first bad field."""
    r = Reader(raw, "", ("kind", "params", "target", "start_in_s", "duration_s", "seed"))
    kind = r.raw.get("kind")
    if not isinstance(kind, str) or kind not in REGISTRY:  # a list or object is unhashable
        raise FaultSpecError("kind", f"expected one of {', '.join(sorted(REGISTRY))}, got {kind!r}")
    params_raw = r.raw.get("params")
    params_raw = {} if params_raw is None else params_raw  # a list or 0 is no object either
    params = REGISTRY[kind].parse(params_raw)
    duration = r.optional_number("duration_s", low=0.001, high=MAX_DURATION_S)
    spec = FaultSpec(
        kind=kind,
        params=params,
        target=Target.parse(r.raw.get("target"), channels),
        start_in_s=r.number("start_in_s", 0.0, high=MAX_DURATION_S),
        duration_s=duration,
        seed=r.integer("seed", 0, low=-(2**63), high=2**63 - 1),
        raw_params=dict(params_raw) if isinstance(params_raw, dict) else {},
    )
    if checks is not None:
        checks(spec)
    return spec

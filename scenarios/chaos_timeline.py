"""A seeded chaos soak as a scenario (pure: no clock, no I/O): open-model load at one rate,
shoppers who do not resolve uncertain payments beside POS terminals that do, and a random
fault timeline drawn from the seed.

The timeline holds every registered fault kind at least once (`faults.every_kind()`: a new
kind joins without an edit here), then more faults of kinds drawn at random, one for about
every `SPACING_S` seconds. Each window overlaps at least one other. Params are drawn from
each kind's msgspec params type within its bounds, around the value the kind's example
gives (from half to twice it), or its default; a field the kind may leave out is left out
a third of the time. Targets are the example's route (or any route, for the faults beyond
the first of each kind) with a probability from half to twice the example's. Every drawn
fault is checked by the kind's own rules (`faults.parse_fault`); a kind whose draws keep
failing them falls back to its example's params.

The same seed, duration and kinds give the same timeline, on any machine."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import msgspec.inspect as mi

from contract.profile import CHANNEL_NAMES
from contract.routes import ROUTE_NAMES
from faults import FaultSpecError, Kind, every_kind, parse_fault

NAME = "chaos-soak"
SCALE = 2.0
"""Numbers are drawn from anchor / SCALE to anchor * SCALE (log-uniform), within bounds."""
SPACING_S = 15.0
"""One fault for about every this many seconds of the faulted span (at least one per kind)."""
MIN_WINDOW_S = 5.0
OMIT_SHARE = 1 / 3
"""A field with a default is left out (the kind's default applies) this often."""
DRAW_TRIES = 50
MIN_DURATION_S = 30.0
"""Shorter, and the windows of every kind would have no room."""

# Who arrives, and how their app behaves. Shoppers' apps do not resolve an uncertain payment
# (`resolve_uncertain: false`); a POS terminal always does (it looks the payment up until the
# deadline, then reverses it), so one scenario holds both kinds of client.
MIX: dict[str, float] = {"shopper": 65, "pos": 30, "refund": 5}
# The gateway sheds what it cannot queue (503 SYSTEM_BUSY at once). Without shedding, a fault
# that slows it below the arrival rate builds a queue without bound (the default profile
# waits until each client gives up, then still does the work): a capacity fault of two
# minutes at 200 payments/s queued 107,000 requests and 1.3 GiB, and took five minutes to
# drain. Memory would then measure that queue, not a leak; with shedding it is bounded by
# the admission limit and queue, so what grows beyond them is something kept.
GATEWAY: dict[str, Any] = {"capacity": {"shedding": True}}
CLIENT: dict[str, Any] = {
    "timeout_s": 3,
    "retry": "backoff",
    "max_retries": 1,
    "resolve_uncertain": False,
    "resolve_deadline_s": 10,
    "weak_network_share": 0.05,
}


@dataclass(frozen=True, slots=True)
class Quiet:
    """The stretches without faults: the head lets the pool connect and caches fill, the
    tail lets the last faulted payments end and the gateway settle before the run's last
    minute is measured."""

    head_s: float
    tail_s: float


def quiet(duration_s: float) -> Quiet:
    return Quiet(head_s=min(30.0, 0.1 * duration_s), tail_s=min(60.0, 0.15 * duration_s))


class _CannotDraw(Exception):
    """A field of a type this module does not know how to draw (and no default to keep)."""


def _unwrap(t: mi.Type) -> tuple[mi.Type, tuple[Any, ...] | None]:
    """The type under Metadata, and the enum its JSON schema names, if any."""
    enum: tuple[Any, ...] | None = None
    while isinstance(t, mi.Metadata):
        schema = t.extra_json_schema or {}
        if isinstance(schema.get("enum"), list):
            enum = tuple(schema["enum"])
        t = t.type
    if isinstance(t, mi.UnionType):
        options = [o for o in t.types if not isinstance(o, mi.NoneType)]
        if len(options) == 1:
            return _unwrap(options[0])[0], enum
    return t, enum


def _bounds(t: mi.IntType | mi.FloatType) -> tuple[float, float]:
    step = 1.0 if isinstance(t, mi.IntType) else 1e-3
    lo = t.ge if t.ge is not None else (t.gt + step if t.gt is not None else 0.0)
    hi = t.le if t.le is not None else (t.lt - step if t.lt is not None else math.inf)
    return float(lo), float(hi)


def _number(t: mi.IntType | mi.FloatType, anchor: Any, rng: random.Random) -> float | int:
    lo, hi = _bounds(t)
    share = hi <= 1.0  # a probability or a share: drawn linearly
    if isinstance(anchor, int | float) and not isinstance(anchor, bool) and anchor > 0:
        a, b = anchor / SCALE, anchor * SCALE
    elif share:
        a, b = lo, hi
    else:
        a, b = max(lo, 1.0), min(hi, 1000.0)
    a, b = max(a, lo), min(b, hi)
    if a > b:
        a = b = min(max(float(anchor or lo), lo), hi)
    value = (
        rng.uniform(a, b) if share or a <= 0 else math.exp(rng.uniform(math.log(a), math.log(b)))
    )
    if isinstance(t, mi.IntType):
        whole = max(round(value), math.ceil(lo))
        return whole if math.isinf(hi) else min(whole, math.floor(hi))
    return min(max(round(value, 3), lo), hi)


def _value(t: mi.Type, anchor: Any, rng: random.Random) -> Any:
    t, enum = _unwrap(t)
    if enum:
        return rng.choice(enum)
    if isinstance(t, mi.LiteralType):
        return rng.choice(t.values)
    if isinstance(t, mi.BoolType):
        return rng.random() < 0.5
    if isinstance(t, mi.IntType | mi.FloatType):
        return _number(t, anchor, rng)
    if isinstance(t, mi.VarTupleType | mi.ListType) and isinstance(anchor, list | tuple) and anchor:
        k = rng.randint(max(1, t.min_length or 1), len(anchor))
        return [anchor[i] for i in sorted(rng.sample(range(len(anchor)), k))]
    if anchor is not None:
        return anchor  # a string, say: the example's is the one known to mean something
    raise _CannotDraw


def draw_params(kind: Kind[Any], rng: random.Random) -> dict[str, Any]:
    """One set of params for `kind`, drawn from its params type around its example."""
    example = dict(kind.example.get("params") or {})
    info = mi.type_info(kind.params_type)
    assert isinstance(info, mi.StructType)
    params: dict[str, Any] = {}
    for f in info.fields:
        if not f.required and rng.random() < OMIT_SHARE:
            continue  # the kind's default applies
        default = None if f.default in (msgspec.NODEFAULT, None) else f.default
        anchor = example.get(f.name, default)
        try:
            params[f.name] = _value(f.type, anchor, rng)
        except _CannotDraw:
            if f.required:
                raise
    return params


def _target(kind: Kind[Any], rng: random.Random, *, anchored: bool) -> dict[str, Any]:
    """The example's target with a drawn probability; beyond a kind's first fault, the route
    is drawn too (any route, or none: every request)."""
    target = dict(kind.example.get("target") or {})
    if not anchored and rng.random() < 0.5:
        route = rng.choice((None, *ROUTE_NAMES))
        target.pop("route", None)
        if route is not None:
            target["route"] = route
    p = float(target.get("probability", 1.0))
    target["probability"] = round(rng.uniform(p / SCALE, min(1.0, p * SCALE)), 4)
    return target


def draw_fault(
    kind: Kind[Any], rng: random.Random, start_s: float, duration_s: float, *, anchored: bool
) -> dict[str, Any]:
    """One fault of `kind` in its wire form, checked by the kind's own rules."""
    fault: dict[str, Any] = {"kind": kind.name}
    for _ in range(DRAW_TRIES):
        try:
            fault["params"] = draw_params(kind, rng)
            parse_fault(fault, CHANNEL_NAMES)
            break
        except (_CannotDraw, FaultSpecError):
            continue
    else:
        fault["params"] = dict(kind.example.get("params") or {})
    fault["target"] = _target(kind, rng, anchored=anchored)
    fault["start_in_s"] = start_s
    fault["duration_s"] = duration_s
    fault["seed"] = rng.randrange(2**31)
    parse_fault(fault, CHANNEL_NAMES)  # a FaultSpecError here is this module's mistake
    return fault


def _overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[0] + b[1] and b[0] < a[0] + a[1]


def _windows(
    rng: random.Random, count: int, first: float, last: float
) -> list[tuple[float, float]]:
    """`count` (start, duration) windows within [first, last], their starts spread over it
    (one in each of `count` equal slots), each overlapping an earlier one (the first
    overlaps the second): no fault runs alone."""
    span = last - first
    shortest = min(span, max(MIN_WINDOW_S, 0.03 * span))
    longest = max(shortest, 0.25 * span)
    slot = span / count
    windows: list[tuple[float, float]] = []
    for i in range(count):
        duration = round(rng.uniform(shortest, longest), 1)
        start = min(first + (i + rng.random()) * slot, last - duration)
        if windows and not any(_overlaps((start, duration), w) for w in windows):
            # Into an earlier window: it starts within that one's first half.
            other_start, other_duration = rng.choice(windows)
            start = min(other_start + rng.uniform(0.0, other_duration / 2), last - duration)
        windows.append((round(start, 1), duration))
    return windows


def chaos_timeline(
    seed: int, duration_s: float, kinds: Sequence[Kind[Any]] | None = None
) -> list[dict[str, Any]]:
    """The fault timeline of a soak of `duration_s` seconds: every kind at least once, in
    overlapping windows between the quiet head and tail, sorted by start."""
    if duration_s < MIN_DURATION_S:
        raise ValueError(f"a chaos soak needs at least {MIN_DURATION_S:g} s, got {duration_s:g}")
    kinds = list(every_kind() if kinds is None else kinds)
    rng = random.Random(seed)
    calm = quiet(duration_s)
    first, last = calm.head_s, duration_s - calm.tail_s
    count = max(len(kinds), round((last - first) / SPACING_S))
    drawn = [*kinds, *(rng.choice(kinds) for _ in range(count - len(kinds)))]
    rng.shuffle(drawn)
    windows = _windows(rng, count, first, last)
    seen: set[str] = set()
    faults = []
    for kind, (start, duration) in zip(drawn, windows, strict=True):
        # A kind's first fault keeps its example's route: every kind acts at least once.
        faults.append(draw_fault(kind, rng, start, duration, anchored=kind.name not in seen))
        seen.add(kind.name)
    return sorted(faults, key=lambda f: (f["start_in_s"], f["kind"]))


def chaos_scenario(
    seed: int, duration_s: float, rate: float, *, chaos: bool = True
) -> dict[str, Any]:
    """The soak as a scenario file's mapping (`scenarios.loader.parse_scenario` reads it);
    without `chaos`, the same load and clients and no fault: a baseline."""
    faults = chaos_timeline(seed, duration_s) if chaos else []
    kinds = len({f["kind"] for f in faults})
    what = f"{len(faults)} faults of {kinds} kinds" if chaos else "no faults"
    return {
        "name": NAME if chaos else "soak-baseline",
        "description": (
            f"Seeded chaos soak (seed {seed}): {what} over {duration_s:g} s at {rate:g} "
            "payments/s, shedding on; shoppers who do not resolve uncertain payments, POS "
            "terminals who do."
        ),
        "duration_s": duration_s,
        "load": {"model": "arrival-rate", "stages": [{"until_s": duration_s, "rate": rate}]},
        "mix": dict(MIX),
        "client": dict(CLIENT),
        "gateway": {k: dict(v) for k, v in GATEWAY.items()},
        "faults": faults,
    }

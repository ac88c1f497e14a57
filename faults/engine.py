"""The fault engine: a timeline of faults (scheduled → active → expired), matched against
requests, with seeded draws so the same seed hits the same requests in any order.

The wall clock is the caller's: the engine stamps windows with the `now_iso` and `now_unix`
it is given, so the gateway's timestamps and the fault windows' agree."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from faults.ports import Gateway, RequestFacts
from faults.spec import FaultSpec

SCHEDULED, ACTIVE, EXPIRED = "scheduled", "active", "expired"

P = TypeVar("P")


@dataclass(slots=True)
class Fault(Generic[P]):
    id: str
    spec: FaultSpec[P]
    created_at: str
    state: str = SCHEDULED
    started_at: str | None = None
    started_unix: float | None = None
    ended_at: str | None = None
    ended_unix: float | None = None
    handles: list[asyncio.TimerHandle] = field(default_factory=list)
    kept: Any = None
    """What the fault's kind keeps while it is active (a rate limit's buckets, a stall's stop
    signal); dropped when it ends."""

    @property
    def params(self) -> P:
        return self.spec.params

    def view(self) -> dict[str, Any]:
        s = self.spec
        t = s.target
        return {
            "id": self.id,
            "kind": s.kind,
            "params": s.raw_params,
            "target": {
                k: v
                for k, v in (
                    ("route", t.route),
                    ("channel", t.channel),
                    ("merchant_id", t.merchant_id),
                    ("user_id", t.user_id),
                    ("path", t.path),
                )
                if v is not None
            }
            | {"probability": t.probability, "min_inflight": t.min_inflight},
            "start_in_s": s.start_in_s,
            "duration_s": s.duration_s,
            "seed": s.seed,
            "state": self.state,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }

    def event(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.spec.kind,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "started_unix": self.started_unix,
            "ended_unix": self.ended_unix,
        }


def draw(seed: int, purpose: str, key: str) -> float:
    """A uniform number in [0, 1) fixed by a seed, a purpose and the request key: the same
    fault added again with the same seed hits the same requests, in any order."""
    digest = hashlib.blake2b(f"{seed}:{purpose}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


Hook = Callable[[Fault[Any]], None]


class FaultEngine:
    def __init__(
        self,
        inflight: Callable[[], int],
        now_iso: Callable[[], str],
        now_unix: Callable[[], float] = time.time,
    ) -> None:
        self._inflight = inflight
        self.now_iso = now_iso
        self.now_unix = now_unix
        self._ids = itertools.count(1)
        self.faults: dict[str, Fault[Any]] = {}
        # One list per kind, kept for the engine's life: the kinds' views hold it.
        self._active: dict[str, list[Fault[Any]]] = {}
        self.windows: list[Fault[Any]] = []  # every fault that became active, in order
        self.on_activate: list[Hook] = []
        self.on_deactivate: list[Hook] = []
        self.injected: dict[str, int] = {}
        # Faults active now, of any kind: 0 lets every request skip the fault stages.
        self.active_total = 0
        self._attempts: dict[tuple[str, str, str], int] = {}  # per active fault, dropped after

    # -- timeline ----------------------------------------------------------------------------

    def add(self, spec: FaultSpec[Any]) -> Fault[Any]:
        loop = asyncio.get_running_loop()
        fault: Fault[Any] = Fault(id=f"f{next(self._ids)}", spec=spec, created_at=self.now_iso())
        self.faults[fault.id] = fault
        fault.handles.append(loop.call_later(spec.start_in_s, self._activate, fault))
        return fault

    def remove(self, fault_id: str) -> Fault[Any] | None:
        fault = self.faults.pop(fault_id, None)
        if fault is not None:
            for handle in fault.handles:
                handle.cancel()
            self._expire(fault)  # ended: a scheduled one will never start
        return fault

    def clear(self) -> int:
        ids = list(self.faults)
        for fault_id in ids:
            self.remove(fault_id)
        return len(ids)

    def _activate(self, fault: Fault[Any]) -> None:
        if fault.state != SCHEDULED:
            return
        fault.state = ACTIVE
        fault.started_at, fault.started_unix = self.now_iso(), self.now_unix()
        if fault.spec.duration_s is not None:
            # From the start it really had: a loop busy past both deadlines would otherwise
            # open and close the window in one turn, and the fault would hit nothing.
            loop = asyncio.get_running_loop()
            fault.handles.append(loop.call_later(fault.spec.duration_s, self._expire, fault))
        self.active_list(fault.spec.kind).append(fault)
        self.active_total += 1
        self.windows.append(fault)
        for hook in self.on_activate:
            hook(fault)

    def _expire(self, fault: Fault[Any]) -> None:
        if fault.state != ACTIVE:
            fault.state = EXPIRED
            return
        fault.state = EXPIRED
        fault.ended_at, fault.ended_unix = self.now_iso(), self.now_unix()
        active = self.active_list(fault.spec.kind)
        if fault in active:
            active.remove(fault)
            self.active_total -= 1
        self._attempts = {k: n for k, n in self._attempts.items() if k[0] != fault.id}
        for hook in self.on_deactivate:
            hook(fault)

    def active_list(self, kind: str) -> list[Fault[Any]]:
        """The active faults of `kind` in the order they started: one list for the engine's
        life, changed in place."""
        return self._active.setdefault(kind, [])

    def active_count(self, kind: str) -> int:
        return len(self._active.get(kind, ()))

    # -- matching ----------------------------------------------------------------------------

    def matches(self, fault: Fault[Any], facts: RequestFacts, channel: str | None = None) -> bool:
        t = fault.spec.target
        if t.route is not None and t.route != facts.route:
            return False
        if t.channel is not None and t.channel != channel:
            return False
        if t.merchant_id is not None and t.merchant_id != facts.merchant_id:
            return False
        if t.user_id is not None and t.user_id != facts.user_id:
            return False
        if t.path is not None and not facts.path.startswith(t.path):
            return False
        if t.min_inflight and self._inflight() < t.min_inflight:
            return False
        return t.probability >= 1.0 or self.chance(fault, "target", facts.key) < t.probability

    def chance(self, fault: Fault[Any], purpose: str, key: str) -> float:
        """The fault's draw for this request. A retry under the same key is a new attempt
        with a draw of its own (the n-th attempt of a key always draws the same), so
        retries can get through a partial fault as they would in life."""
        return draw(fault.spec.seed, purpose, self.attempt(fault, purpose, key))

    def attempt(self, fault: Fault[Any], purpose: str, key: str) -> str:
        """The name of this attempt of `key` for one of the fault's draws, counting it: the
        key itself the first time, then `key#1`, `key#2` … for its retries and replays."""
        seen = (fault.id, purpose, key)
        attempt = self._attempts.get(seen, 0)
        self._attempts[seen] = attempt + 1
        return key if attempt == 0 else f"{key}#{attempt}"

    def hit(self, fault: Fault[Any], facts: RequestFacts) -> None:
        """Count an injection and mark the response it shaped."""
        facts.shaped_by(fault.id)
        self.injected[fault.spec.kind] = self.injected.get(fault.spec.kind, 0) + 1


class Active(Generic[P]):
    """The active faults of one kind on one gateway, as that kind's stage hooks see them:
    iterable in the order they started, with the engine's targeting and seeded draws."""

    __slots__ = ("_engine", "faults", "gateway")

    def __init__(self, engine: FaultEngine, faults: list[Fault[P]], gateway: Gateway) -> None:
        self._engine = engine
        self.faults = faults
        self.gateway = gateway

    def __iter__(self) -> Iterator[Fault[P]]:
        return iter(self.faults)

    def match(self, facts: RequestFacts, channel: str | None = None) -> Fault[P] | None:
        """The first of them whose target and chance draw hit this request."""
        matches = self._engine.matches
        return next((f for f in self.faults if matches(f, facts, channel)), None)

    def matches(self, fault: Fault[P], facts: RequestFacts, channel: str | None = None) -> bool:
        return self._engine.matches(fault, facts, channel)

    def chance(self, fault: Fault[P], purpose: str, key: str) -> float:
        return self._engine.chance(fault, purpose, key)

    def attempt(self, fault: Fault[P], purpose: str, key: str) -> str:
        return self._engine.attempt(fault, purpose, key)

    def hit(self, fault: Fault[P], facts: RequestFacts) -> None:
        self._engine.hit(fault, facts)

    def now_unix(self) -> float:
        """The engine's wall clock, the one its windows are stamped with."""
        return self._engine.now_unix()

"""The chaos core: what the active faults do to one request, stage by stage, in pipeline
order. It knows stages, not kinds: each stage asks the kinds that act there (their hooks, in
their `order`) while a fault of theirs is active.

The faults of the network act on every attempt of a matching route — a replay of a stored
answer, a query, a reversal, a refund, an account or merchant read — each attempt with its
own seeded draw (see `FaultEngine.attempt`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from faults.engine import Active, Fault, FaultEngine
from faults.kind import REGISTRY, Kind, every_kind
from faults.ports import NO_SLOWDOWN, Gateway, Limits, RequestFacts, Reshape, Rule, Slowdown

Stage = tuple[tuple[Kind[Any], Active[Any]], ...]


class Chaos:
    def __init__(self, engine: FaultEngine, gateway: Gateway) -> None:
        self.engine = engine
        self.gateway = gateway
        cap = gateway.profile.capacity
        self._base_limits: Limits = (cap.max_inflight, cap.queue)
        self._views = {
            kind.name: Active(engine, engine.active_list(kind.name), gateway)
            for kind in every_kind()
        }

        def at(stage: str) -> Stage:
            return tuple((k, self._views[k.name]) for k in every_kind() if k.acts_at(stage))

        self._edge = at("edge")
        self._decide = at("decide")
        self._hang = at("hang")
        self._channel = at("channel")
        self._commit_late = at("commit_late")
        self._respond = at("respond")
        self._limits = at("limits")
        self._shed = at("shed")
        # Background work of the faults active now, and work cancelled but not yet finished.
        self._running: dict[str, tuple[Fault[Any], asyncio.Task[None]]] = {}
        self._ending: set[asyncio.Task[None]] = set()
        engine.on_activate.append(self._activated)
        engine.on_deactivate.append(self._deactivated)

    # -- a request's stages ------------------------------------------------------------------

    async def edge(self, facts: RequestFacts) -> None:
        """Before the request is handled; raises the GatewayError a fault answers with."""
        for kind, faults in self._edge:
            if faults.faults:
                await kind.edge(faults, facts)

    async def decide(self, facts: RequestFacts, rules: Sequence[Rule] = ()) -> str | None:
        """A new payment's decline code (None: approved) from the kinds that decide and the
        gateway's own `rules` (sorted by order), taken in order; the first to speak decides."""
        left = list(rules)
        for kind, faults in self._decide:
            while left and left[0].order < kind.order:
                code = left.pop(0).check(facts)
                if code is not None:
                    return code
            if faults.faults:
                verdict = await kind.decide(faults, facts)
                if verdict is not None:
                    return verdict.decline
        for rule in left:
            code = rule.check(facts)
            if code is not None:
                return code
        return None

    def hang_s(self, facts: RequestFacts) -> float | None:
        """How long a payment attempt hangs before `504 CHANNEL_TIMEOUT` (None: it does not):
        in the channel stage for a new payment, before the stored answer for a replay."""
        for kind, faults in self._hang:
            if faults.faults:
                hang_s = kind.hang(faults, facts)
                if hang_s is not None:
                    return hang_s
        return None

    def channel(self, facts: RequestFacts, channel: str) -> Slowdown:
        for kind, faults in self._channel:
            if faults.faults:
                slowdown = kind.channel(faults, facts, channel)
                if slowdown is not None:
                    return slowdown
        return NO_SLOWDOWN

    def commit_late(self, facts: RequestFacts) -> None:
        """A payment's commit outlasted the gateway's patience: faults may claim it."""
        for kind, faults in self._commit_late:
            if faults.faults:
                kind.commit_late(faults, facts)

    def respond(self, facts: RequestFacts) -> Reshape | None:
        """What becomes of the handled request's answer; the first kind to say wins."""
        for kind, faults in self._respond:
            if faults.faults:
                reshape = kind.respond(faults, facts)
                if reshape is not None:
                    return reshape
        return None

    # -- admission ---------------------------------------------------------------------------

    def limits(self) -> Limits:
        """Admission's limits now: the profile's, as active faults change them."""
        limits = self._base_limits
        if not self.engine.active_total:
            return limits
        for kind, faults in self._limits:
            if faults.faults:
                limits = kind.limits(faults, limits)
        return limits

    def shed(self, facts: RequestFacts) -> None:
        """A request refused by admission control: faults may claim it."""
        for kind, faults in self._shed:
            if faults.faults:
                kind.shed(faults, facts)

    # -- background --------------------------------------------------------------------------

    def _activated(self, fault: Fault[Any]) -> None:
        work = REGISTRY[fault.spec.kind].activate(fault, self.gateway)
        if work is not None:
            task = asyncio.get_running_loop().create_task(
                work, name=f"{fault.spec.kind} {fault.id}"
            )
            self._running[fault.id] = (fault, task)

    def _deactivated(self, fault: Fault[Any]) -> None:
        REGISTRY[fault.spec.kind].deactivate(fault)
        fault.kept = None
        running = self._running.pop(fault.id, None)
        if running is not None:
            self._cancel(running[1])

    def _cancel(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    async def close(self) -> None:
        """Stop every fault's background work and wait until it has."""
        for fault, task in self._running.values():
            REGISTRY[fault.spec.kind].deactivate(fault)
            self._cancel(task)
        self._running.clear()
        await asyncio.gather(*self._ending, return_exceptions=True)

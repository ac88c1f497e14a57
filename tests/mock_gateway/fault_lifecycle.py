"""The life of one fault, the same for every kind: scheduled (no effect yet), active (its
effect, its marker, its metrics), removed alone or with all the others (effect gone), and a
timed window that starts and ends by itself and shows in /_chaos/events with real times.

Each family's test file describes its kinds as `Case`s: the spec and a probe that says
whether the fault acted on a fresh request, checking the ledger as it goes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.mock_gateway.chaos_support import Chaos, Seen, Shop, metric, settled_audit

WINDOW_START_S = 0.1
WINDOW_S = 0.2
CLOCK_SLACK_S = 0.005  # timestamps are shown to the millisecond


@dataclass(frozen=True)
class Outcome:
    hit: bool
    """The fault acted on the probe's requests."""
    markers: tuple[str, ...] = ()
    """Every fault id the probe's responses named in X-Paystorm-Fault."""
    shaped: int = 0
    """Requests the fault acted on: what paystorm_faults_injected_total must count."""

    @classmethod
    def of(cls, hit: bool, *seen: Seen) -> Outcome:
        markers = tuple(dict.fromkeys(m for s in seen for m in s.markers))
        return cls(hit, markers, sum(1 for s in seen if s.markers or (hit and s.status is None)))


Probe = Callable[[Shop], Awaitable[Outcome]]
Hook = Callable[[Shop], Awaitable[None]]


async def _nothing(shop: Shop) -> None:
    return None


@dataclass(frozen=True)
class Case:
    id: str
    spec: dict[str, Any]
    probe: Probe
    marked: bool = True
    """The responses it shapes carry the marker (False: no response exists, or the probe
    reads a gauge rather than a response)."""
    ready: Hook = field(default=_nothing)
    """Awaited once the fault is active, before probing (e.g. until a lock is really held)."""
    gone: Hook = field(default=_nothing)
    """Awaited once the fault ended, before probing again."""

    @property
    def kind(self) -> str:
        return str(self.spec["kind"])


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


async def check_lifecycle(shop: Shop, case: Case) -> None:
    api, chaos, kind = shop.api, Chaos(shop.api), case.kind

    async def injected() -> float:
        return await metric(api, "paystorm_faults_injected_total", kind=kind)

    async def active_gauge() -> float:
        return await metric(api, "paystorm_fault_active", kind=kind)

    async def unaffected(when: str) -> None:
        before = await injected()
        outcome = await case.probe(shop)
        assert not outcome.hit, f"{case.id}: the fault acted {when}"
        assert outcome.markers == (), f"{case.id}: marked {when}"
        assert await injected() == before

    # Scheduled: nothing happens before its time.
    later = await chaos.add({**case.spec, "start_in_s": 60})
    assert (later["state"], later["started_at"], later["ended_at"]) == ("scheduled", None, None)
    await unaffected("while scheduled")
    assert (await chaos.fault(later["id"]) or {})["state"] == "scheduled"
    assert await active_gauge() == 0

    # Active until removed: its effect, its marker, its metrics.
    now = await chaos.add_active(case.spec)
    await case.ready(shop)
    assert await active_gauge() == 1
    before = await injected()
    outcome = await case.probe(shop)
    assert outcome.hit, f"{case.id}: no effect while active"
    assert outcome.markers == ((now["id"],) if case.marked else ())
    assert await injected() - before == outcome.shaped

    removed = await chaos.remove(now["id"])
    assert removed["state"] == "expired"
    assert removed["ended_at"] is not None
    assert await chaos.fault(now["id"]) is None
    await case.gone(shop)
    assert await active_gauge() == 0
    await unaffected("after DELETE of it")
    event = await chaos.event(now["id"])
    assert (event["started_at"], event["ended_at"]) == (now["started_at"], removed["ended_at"])

    # A timed window: active start_in_s after it was added, expired duration_s later.
    t0 = time.time()
    window = await chaos.add({**case.spec, "start_in_s": WINDOW_START_S, "duration_s": WINDOW_S})
    assert window["state"] == "scheduled"
    expired = await chaos.wait_state(window["id"], "expired")
    t1 = time.time()
    await case.gone(shop)
    await unaffected("after its window")
    event = await chaos.event(window["id"])
    assert (event["kind"], event["started_at"], event["ended_at"]) == (
        kind,
        expired["started_at"],
        expired["ended_at"],
    )
    started, ended = _when(event["started_at"]), _when(event["ended_at"])
    assert (started - _when(window["created_at"])).total_seconds() >= WINDOW_START_S - CLOCK_SLACK_S
    assert (ended - started).total_seconds() >= WINDOW_S - CLOCK_SLACK_S
    assert t0 - CLOCK_SLACK_S <= event["started_unix"] < event["ended_unix"] <= t1 + CLOCK_SLACK_S
    assert abs(event["started_unix"] - started.timestamp()) <= CLOCK_SLACK_S
    assert abs(event["ended_unix"] - ended.timestamp()) <= CLOCK_SLACK_S

    # DELETE of all: the scheduled one, a new active one and the expired window.
    again = await chaos.add_active(case.spec)
    await case.ready(shop)
    assert await chaos.clear() == 3
    assert await chaos.faults() == []
    await case.gone(shop)
    assert await active_gauge() == 0
    await unaffected("after DELETE of all")
    assert (await chaos.event(again["id"]))["ended_at"] is not None
    assert later["id"] not in {e["id"] for e in await chaos.events()}, "it never started"

    await settled_audit(api)

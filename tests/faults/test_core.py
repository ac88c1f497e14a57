"""The engine and the chaos core without a gateway: windows stamped by the clock they are
given, and a payment's decision taken in pipeline order around the gateway's own rule."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from contract.profile import CHANNEL_NAMES, DEFAULT
from faults import RISK_RULE, Chaos, FaultEngine, Gateway, RequestFacts, Rule, parse_fault


class Clock:
    def __init__(self) -> None:
        self._ticks = itertools.count(1)
        self.unix = 0.0

    def iso(self) -> str:
        self.unix = float(next(self._ticks))
        return f"tick {self.unix:g}"

    def now(self) -> float:
        return self.unix


def _core() -> tuple[Chaos, Clock]:
    clock = Clock()
    engine = FaultEngine(inflight=lambda: 0, now_iso=clock.iso, now_unix=clock.now)
    return Chaos(engine, Gateway(profile=DEFAULT, ledger=Path("unused.db"))), clock


async def _active(chaos: Chaos, spec: dict[str, Any]) -> str:
    fault = chaos.engine.add(parse_fault(spec, CHANNEL_NAMES))
    while fault.state != "active":
        await asyncio.sleep(0)
    return fault.id


async def test_windows_are_stamped_by_the_clock_given() -> None:
    chaos, _ = _core()
    fault_id = await _active(chaos, {"kind": "latency", "params": {"ms": 1}})
    chaos.engine.remove(fault_id)

    (event,) = [f.event() for f in chaos.engine.windows]
    assert (event["started_at"], event["ended_at"]) == ("tick 2", "tick 3")
    assert (event["started_unix"], event["ended_unix"]) == (2.0, 3.0)
    assert chaos.engine.faults == {}


async def test_the_decision_runs_in_pipeline_order_around_the_gateways_rule() -> None:
    chaos, _ = _core()
    own = [Rule(RISK_RULE, lambda facts: "ACCOUNT_FROZEN")]
    strict = await _active(chaos, {"kind": "risk_strict", "params": {"false_positive_rate": 1}})

    facts = RequestFacts(route="pay", key="k1")
    assert await chaos.decide(facts, own) == "ACCOUNT_FROZEN"
    assert facts.fault_ids == [], "the gateway's own risk rule spoke first"
    facts = RequestFacts(route="pay", key="k2")
    assert await chaos.decide(facts, []) == "RISK_DECLINED"
    assert facts.fault_ids == [strict]

    merchant = await _active(
        chaos, {"kind": "merchant_unsupported", "params": {"merchant_ids": ["m1"]}}
    )
    facts = RequestFacts(route="pay", key="k3", merchant_id="m1")
    assert await chaos.decide(facts, own) == "MERCHANT_NOT_SUPPORTED"
    assert facts.fault_ids == [merchant], "the merchant is checked before risk control"
    chaos.engine.clear()
    assert await chaos.decide(RequestFacts(route="pay", key="k4"), own) == "ACCOUNT_FROZEN"
    await chaos.close()

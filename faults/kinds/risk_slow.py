"""`risk_slow`: the risk check is slow, or flaps between slow and healthy; past its budget the
gateway stops waiting and fails open (approves) or closed (declines, RISK_DECLINED)."""

from __future__ import annotations

import asyncio
import random
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from faults.engine import Active, Fault
from faults.kind import Kind, Params, register
from faults.ports import APPROVED, RISK_RULE, RequestFacts, Verdict

DECLINED = Verdict("RISK_DECLINED")
WholeMs = Annotated[int, msgspec.Meta(ge=0, le=60_000)]


class RiskSlowParams(Params, frozen=True):
    """`delay_ms`: how long the risk check takes, ± `jitter_ms` (uniform, drawn per attempt);
    `budget_ms`: how long the gateway waits for it, after which `fail` decides: open (the
    payment goes on as if risk control had approved it) or closed (declined with
    RISK_DECLINED). `flap_every_s`: slow and healthy by turns, that long each, slow first."""

    delay_ms: WholeMs
    jitter_ms: WholeMs = 0
    budget_ms: Annotated[int, msgspec.Meta(ge=1, le=60_000)] = 500
    fail: Literal["open", "closed"] = "closed"
    flap_every_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] | None = None

    def slow_at(self, since_start_s: float) -> bool:
        """Whether the check is slow this long after the fault started."""
        if self.flap_every_s is None:
            return True
        return int(since_start_s // self.flap_every_s) % 2 == 0

    def delay_s(self, rng: random.Random) -> float:
        if not self.jitter_ms:
            return self.delay_ms / 1000
        ms = rng.uniform(self.delay_ms - self.jitter_ms, self.delay_ms + self.jitter_ms)
        return max(0.0, ms) / 1000


@register
class RiskSlow(Kind[RiskSlowParams]):
    """New payments wait for risk control; a replay keeps its stored decision."""

    name = "risk_slow"
    params_type = RiskSlowParams
    # Risk control is consulted here: the gateway's own risk rule and `risk_strict` come
    # after it, and a check that never answered leaves them nothing to say.
    order = RISK_RULE - 5
    example: ClassVar[dict[str, Any]] = {
        "params": {"delay_ms": 800, "jitter_ms": 200, "budget_ms": 500, "fail": "open"},
        "target": {"probability": 0.5},
        "start_in_s": 20,
        "duration_s": 40,
        "seed": 5,
    }

    async def decide(self, faults: Active[RiskSlowParams], facts: RequestFacts) -> Verdict | None:
        now = faults.now_unix()
        fault = next((f for f in faults if _slow_now(f, now) and faults.matches(f, facts)), None)
        if fault is None:
            return None
        params = fault.params
        faults.hit(fault, facts)
        # Drawn per attempt of the key: a payment tried again waits a check of its own.
        attempt = faults.attempt(fault, "risk_slow", facts.key)
        delay_s = params.delay_s(random.Random(f"{fault.spec.seed}:risk_slow:{attempt}"))
        budget_s = params.budget_ms / 1000
        if delay_s <= budget_s:
            await asyncio.sleep(delay_s)
            return None  # risk control answered in time: its own verdict follows
        await asyncio.sleep(budget_s)
        return APPROVED if params.fail == "open" else DECLINED


def _slow_now(fault: Fault[RiskSlowParams], now: float) -> bool:
    started = fault.started_unix if fault.started_unix is not None else now
    return fault.params.slow_at(now - started)

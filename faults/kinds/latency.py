"""`latency`: added delay before the request is handled."""

from __future__ import annotations

import asyncio
import math
import random
from typing import Any, ClassVar, Literal

from faults.engine import Active
from faults.kind import Kind, Params, register
from faults.ports import RequestFacts
from faults.spec import Ms


class LatencyParams(Params, frozen=True):
    """`ms` mean delay; `jitter_ms` spread (uniform: ±jitter, normal: sd, lognormal: sd of
    the delay itself); never below 0."""

    ms: Ms
    jitter_ms: Ms = 0.0
    distribution: Literal["fixed", "uniform", "normal", "lognormal"] = "fixed"

    @property
    def jittered(self) -> bool:
        """Whether the delay is drawn at all; without jitter it is always `ms`."""
        return self.jitter_ms > 0 and self.distribution != "fixed"

    def delay_s(self, rng: random.Random) -> float:
        ms, jitter = self.ms, self.jitter_ms
        if self.distribution == "uniform":
            value = rng.uniform(ms - jitter, ms + jitter)
        elif self.distribution == "normal":
            value = rng.gauss(ms, jitter)
        elif self.distribution == "lognormal" and ms > 0 and jitter > 0:
            sigma2 = math.log(1 + (jitter / ms) ** 2)  # matches the mean and sd asked for
            value = rng.lognormvariate(math.log(ms) - sigma2 / 2, math.sqrt(sigma2))
        else:
            value = ms
        return max(0.0, value) / 1000


@register
class Latency(Kind[LatencyParams]):
    """A delay before the request is handled, on every attempt of a matching route."""

    name = "latency"
    params_type = LatencyParams
    order = 10
    example: ClassVar[dict[str, Any]] = {
        "params": {"ms": 200, "jitter_ms": 50, "distribution": "lognormal"},
        "target": {"route": "pay", "probability": 0.2},
        "start_in_s": 10,
        "duration_s": 30,
    }

    async def edge(self, faults: Active[LatencyParams], facts: RequestFacts) -> None:
        fault = faults.match(facts)
        if fault is None:
            return
        params = fault.params
        faults.hit(fault, facts)
        delay_s = params.ms / 1000
        if params.jittered:
            # Drawn per attempt of the request key, not in arrival order: a replay waits a
            # delay of its own, and the n-th attempt of a key always the same one.
            attempt = faults.attempt(fault, "latency", facts.key)
            delay_s = params.delay_s(random.Random(f"{fault.spec.seed}:latency:{attempt}"))
        await asyncio.sleep(delay_s)

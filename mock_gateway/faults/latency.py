"""`latency`: added delay before the request is handled."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from mock_gateway.faults.spec import Params, Reader, register

DISTRIBUTIONS = ("fixed", "uniform", "normal", "lognormal")


@register
@dataclass(frozen=True, slots=True)
class Latency(Params):
    """`ms` mean delay; `jitter_ms` spread (uniform: ±jitter, normal: sd, lognormal: sd of
    the delay itself); never below 0."""

    KIND = "latency"
    ms: float
    jitter_ms: float = 0.0
    distribution: str = "fixed"

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Latency:
        r = Reader(raw, "params", ("ms", "jitter_ms", "distribution"))
        return cls(
            ms=r.number("ms", high=600_000),
            jitter_ms=r.number("jitter_ms", 0.0, high=600_000),
            distribution=r.choice("distribution", DISTRIBUTIONS, "fixed"),
        )

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

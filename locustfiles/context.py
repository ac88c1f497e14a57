"""What one Locust process knows about the run: the scenario, the target's population, the
recorder and the clock every payment is timed against (no Locust import here)."""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from contract.admin import AdminClient, AdminError
from contract.population import POPULAR_MERCHANTS, merchant_id
from locustfiles.client.adapter import MOCK, Adapter
from locustfiles.outcomes import Recorder
from locustfiles.schedule import Ticket
from scenarios.loader import load_scenario
from scenarios.model import Scenario

if TYPE_CHECKING:
    from locustfiles.reversals import PendingReversals


class Arrivals(Protocol):
    """The open model's executor (locustfiles.arrivals.ArrivalExecutor), as the run's context
    holds it: that module imports gevent and the users, this one neither."""

    busy: int  # users serving an arrival now

    def start(self) -> Any: ...  # the executor's greenlet

    def reassign(self, slot: int, workers: int, from_k: int) -> None: ...

    def close(self) -> None: ...

    def take(self) -> Ticket: ...

    def served(self) -> None: ...

    def drop(self, ticket: Ticket) -> None: ...


POPULAR_SHARE = 0.8  # of checkouts go to the popular merchants, as on a promo day
BASKET_MEDIAN_FEN = 15_000
BASKET_SIGMA = 1.0  # lognormal: most baskets small, a heavy tail of big ones
APP_VERSIONS = ("8.0.50", "8.0.49", "8.0.47", "7.0.20")
REFUNDABLE_KEPT = 10_000  # recent successful payments a refunder may pick from
CITIES = 200


@dataclass(frozen=True, slots=True)
class Captured:
    """A payment of this run that succeeded: what a refunder needs to refund part of it."""

    payment_id: str
    user_id: str
    merchant_id: str
    amount: int
    city: str = ""


@dataclass
class RunContext:
    scenario: Scenario
    results_dir: Path | None
    accounts: int = 1
    merchants: int = 1
    t0: float = field(default_factory=time.time)  # wall clock of second 0
    started: bool = False  # second 0 is fixed: the load has begun
    recorder: Recorder = field(default_factory=Recorder)
    payments_log: IO[bytes] | None = None
    users_created: int = 0
    key_prefix: str = ""  # keeps two runs against one gateway from sharing keys
    arrivals: Arrivals | None = None  # the open model's executor; None: closed model
    pool_users: int = 0  # the open model's pool: every user is up before second 0
    connected: int = 0  # users of the pool whose connection to the target is open
    connecting: bool = False  # the pool is up: second 0 waits for its connections
    fault_ids: list[str] = field(default_factory=list)  # the timeline's faults on the gateway
    stopped: bool = False  # the run has ended; its background loops end with it
    refundable: deque[Captured] = field(default_factory=lambda: deque(maxlen=REFUNDABLE_KEPT))
    closing: bool = False  # the scenario is over: no new payment begins
    worker_index: int | None = None  # Locust's index of this worker in a distributed run
    city_names: tuple[str, ...] = ()  # filled once per run, from the population's seed
    reversals: PendingReversals | None = None  # made when a first payment is left pending
    adapter: Adapter = MOCK  # the API the people speak: the scenario's client.adapter

    def now_s(self) -> float:
        return time.time() - self.t0

    def user_rng(self) -> random.Random:
        """A reproducible stream per user: the n-th user of a run always shops alike."""
        self.users_created += 1
        seed = self.scenario.population.seed
        if self.worker_index is None:
            return random.Random(f"{seed}:{self.users_created}")
        # Each worker's users shop differently (and never share a key) yet reproducibly.
        return random.Random(f"{seed}:w{self.worker_index}:{self.users_created}")


def cities(seed: int, count: int = CITIES) -> tuple[str, ...]:
    """The cities people shop from, Faker zh_CN's, the same for every process of a seed."""
    from faker import Faker  # imported here: only runs that record people need it

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    return tuple(fake.city() for _ in range(count))


def pick_type(rng: random.Random, mix: dict[str, float]) -> str:
    """One person's user type, drawn by the scenario's `mix` weights."""
    kinds = [k for k, w in mix.items() if w > 0]
    bounds = list(itertools.accumulate(mix[k] for k in kinds))
    return kinds[min(bisect.bisect_right(bounds, rng.random() * bounds[-1]), len(kinds) - 1)]


def pick_merchant(rng: random.Random, merchants: int) -> str:
    if rng.random() < POPULAR_SHARE:
        return merchant_id(rng.randint(1, min(POPULAR_MERCHANTS, merchants)))
    return merchant_id(rng.randint(1, merchants))


def basket_fen(rng: random.Random) -> int:
    amount = int(rng.lognormvariate(0.0, BASKET_SIGMA) * BASKET_MEDIAN_FEN)
    return max(100, min(amount, 5_000_000))


def context_of(environment: Any) -> RunContext:
    """The run context the locustfile's init hook put on Locust's environment; a default one
    (the steady scenario, nothing written) when a user runs alone under `run_single_user`."""
    ctx = getattr(environment, "paystorm", None)
    if isinstance(ctx, RunContext):
        return ctx
    ctx = RunContext(scenario=load_scenario("steady"), results_dir=None)
    population = target_population(environment.host or "")
    ctx.accounts = population.get("accounts", ctx.scenario.population.accounts)
    ctx.merchants = population.get("merchants", ctx.scenario.population.merchants)
    environment.paystorm = ctx
    return ctx


def target_population(host: str) -> dict[str, int]:
    """The target's seeded population, from its /healthz (empty when it cannot be read)."""
    try:
        data = AdminClient(host).health(timeout_s=5)
        return {k: int(data[k]) for k in ("accounts", "merchants")}
    except (AdminError, ValueError, KeyError, TypeError):
        return {}

"""paystorm on Locust's distributed mode: one master, N workers, one set of numbers.

The master owns the run: the shape, second 0, the fault timeline, the guard and the results
folder. It hands each worker the scenario and its share of the arrivals (worker `slot` of W
serves arrivals k ≡ slot mod W, and a new split from an agreed arrival on when a worker joins
or leaves), and rebuilds the per-second outcomes from the payment lines the workers send it
every second. At the scenario's end it asks every worker for its last lines before Locust
stops them, so the results cannot tell one process from several.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from locustfiles.context import RunContext
from locustfiles.outcomes import Outbox, Recorder
from locustfiles.schedule import ArrivalSchedule
from scenarios.loader import parse_scenario, to_dict
from scenarios.model import Scenario

HELLO = "paystorm_hello"  # worker → master: ready for the scenario (Locust's own "ready"
# comes before a worker's locustfile has registered its handlers)
SETUP = "paystorm_setup"  # master → worker: the scenario and the run's key prefix
SHARE = "paystorm_share"  # master → worker: second 0 and the worker's share of arrivals
FINISH = "paystorm_finish"  # master → worker: the scenario is over, send the last lines
OUTCOMES = "paystorm_outcomes"  # worker → master: payment lines and per-second counts
FINAL = "paystorm_final"  # worker → master: the last of them

START_LEAD_S = 0.25  # second 0 a little after the master decides it, so workers hear first
SWITCH_LEAD_S = 1.0  # a new split takes effect this long after the master decides it
SEND_EVERY_S = 1.0
FINAL_GRACE_S = 10.0  # beyond the stop timeout, for the last lines to arrive

log = logging.getLogger(__name__)


def is_distributed(environment: Environment) -> bool:
    return isinstance(environment.runner, MasterRunner | WorkerRunner)


class Master:
    """The master's side: workers' shares, their outcomes merged, the end handshake."""

    def __init__(self, environment: Environment, ctx: RunContext) -> None:
        runner = environment.runner
        assert isinstance(runner, MasterRunner)
        self.runner = runner
        self.ctx = ctx
        self.shares: dict[str, tuple[int, int]] = {}  # worker id → (slot, workers)
        self.finals: set[str] = set()
        self.finishing = False
        load = ctx.scenario.load
        self.schedule = (
            ArrivalSchedule(
                load.stages, speed=ctx.scenario.speed, end_s=ctx.scenario.run_duration_s
            )
            if load.model == "arrival-rate"
            else None
        )
        runner.register_message(HELLO, self._on_hello)
        runner.register_message(OUTCOMES, self._on_outcomes)
        runner.register_message(FINAL, self._on_final)
        self.greeted: set[str] = set()  # workers whose handlers are in place
        self.heard_s: dict[str, float] = {}  # each worker's last outcomes, run seconds
        self.connected_by: dict[str, int] = {}  # each worker's users with a connection open

    def bind(self, ctx: RunContext) -> None:
        """The web UI started another test: its context, the same workers."""
        self.ctx = ctx
        self.shares, self.finals, self.finishing = {}, set(), False
        for worker in self._workers():
            if worker in self.greeted:
                self._setup(worker)

    def _workers(self) -> list[str]:
        """Connected, live workers, in Locust's worker-index order."""
        live = [
            w.id
            for w in self.runner.clients.all
            if w.state != STATE_MISSING and w.id in self.greeted
        ]
        return sorted(live, key=self.runner.get_worker_index)

    def _setup(self, worker: str) -> None:
        self.runner.send_message(
            SETUP,
            {"scenario": to_dict(self.ctx.scenario), "key_prefix": self.ctx.key_prefix},
            client_id=worker,
        )

    def _on_hello(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.greeted.add(msg.node_id)
        self._setup(msg.node_id)
        if self.ctx.started and not self.finishing:
            self.reshare()  # a worker joined the run late

    def start(self) -> None:
        """Second 0: every worker learns it, with its share of the arrivals."""
        # Arrivals are due from second 0 on: it is put a little ahead, so every worker hears of
        # it in time. Closed-model users are already shopping.
        lead = START_LEAD_S if self.schedule is not None else 0.0
        self.ctx.t0 = time.time() + lead
        self.ctx.started = True
        self._send_shares(from_k=0)
        gevent.spawn(self._watch_workers)

    def _send_shares(self, from_k: int) -> None:
        workers = self._workers()
        self.shares = {w: (slot, len(workers)) for slot, w in enumerate(workers)}
        for worker, (slot, count) in self.shares.items():
            self.runner.send_message(
                SHARE,
                {"t0": self.ctx.t0, "slot": slot, "workers": count, "from_k": from_k},
                client_id=worker,
            )

    def reshare(self) -> None:
        """A worker joined or left: a new split, from the first arrival due a moment from now."""
        if self.schedule is None:
            self._send_shares(from_k=0)  # the closed model has no arrivals to split
            return
        switch_s = self.ctx.now_s() + SWITCH_LEAD_S
        from_k = self.schedule.first_due_from(switch_s)
        log.info("paystorm: workers changed; new split from arrival %d (%.1f s)", from_k, switch_s)
        gone = {w: share for w, share in self.shares.items() if w not in self._workers()}
        self._send_shares(from_k)
        for worker, (slot, count) in gone.items():
            self._drop_share(slot, count, self.heard_s.get(worker, 0.0), from_k)

    def _drop_share(self, slot: int, workers: int, since_s: float, until_k: int) -> None:
        """A worker that left took its share with it until the new split: those arrivals were
        offered and nobody served them, so they count as dropped (its payments after its last
        report never reached the master either)."""
        assert self.schedule is not None
        first = self.schedule.first_due_from(since_s)
        for k in range(first + (slot - first) % workers, until_k, workers):
            self.ctx.recorder.dropped(self.schedule.due_s(k))

    def _watch_workers(self) -> None:
        # Locust tells of a worker that joins, not of one that quits or goes missing.
        while not self.ctx.stopped and not self.finishing:
            gevent.sleep(1.0)
            if set(self._workers()) != set(self.shares) and not self.finishing:
                self.reshare()

    def connected(self) -> int:
        """Users of the pool, on every live worker, whose connection is open."""
        live = set(self._workers())
        return sum(n for worker, n in self.connected_by.items() if worker in live)

    def _on_outcomes(self, environment: Environment, msg: Any, **_: Any) -> None:
        self._merge(msg.node_id, msg.data)

    def _on_final(self, environment: Environment, msg: Any, **_: Any) -> None:
        self._merge(msg.node_id, msg.data)
        self.finals.add(msg.node_id)

    def _merge(self, worker: str, data: dict[str, Any]) -> None:
        self.heard_s[worker] = self.ctx.now_s()
        self.connected_by[worker] = int(data.get("connected", 0))
        recorder = self.ctx.recorder
        for line in data["lines"]:
            recorder.ingest(line)
        recorder.merge_counts(worker, {int(k): tuple(v) for k, v in data["counts"].items()})

    def finish(self, timeout_s: float) -> None:
        """The scenario is over: every worker stops taking arrivals, lets its payments in flight
        end (up to the stop timeout) and sends its last lines; wait for them."""
        if self.finishing:
            return
        self.finishing = True
        workers = list(self.shares) or self._workers()
        for worker in workers:
            self.runner.send_message(FINISH, {"timeout_s": timeout_s}, client_id=worker)
        deadline = time.monotonic() + timeout_s + FINAL_GRACE_S
        while time.monotonic() < deadline:
            waiting = [w for w in workers if w not in self.finals and w in self._workers()]
            if not waiting:
                return
            gevent.sleep(0.1)
        log.warning("paystorm: no last outcomes from %d worker(s)", len(waiting))


class Worker:
    """A worker's side: the master's scenario, its share of arrivals, its outcomes sent on."""

    def __init__(
        self, environment: Environment, configure: Callable[[Scenario], RunContext]
    ) -> None:
        runner = environment.runner
        assert isinstance(runner, WorkerRunner)
        self.runner = runner
        self.environment = environment
        self.configure = configure
        self.ctx: RunContext | None = None
        self.outbox = Outbox()
        runner.register_message(SETUP, self._on_setup)
        runner.register_message(SHARE, self._on_share)
        runner.register_message(FINISH, self._on_finish, concurrent=True)
        runner.send_message(HELLO)

    def _on_setup(self, environment: Environment, msg: Any, **_: Any) -> None:
        scenario = parse_scenario(msg.data["scenario"], "the master's scenario")
        ctx = self.configure(scenario)
        ctx.worker_index = self.runner.worker_index
        ctx.key_prefix = f"{msg.data['key_prefix']}{self.runner.worker_index:02d}"
        self.outbox = Outbox()
        ctx.recorder = Recorder(self.outbox)
        self.ctx = ctx
        gevent.spawn(self._send_every_second, ctx)

    def _on_share(self, environment: Environment, msg: Any, **_: Any) -> None:
        ctx = self.ctx
        if ctx is None:
            return
        data = msg.data
        if not ctx.started:
            ctx.t0 = float(data["t0"])
            ctx.started = True
        if ctx.arrivals is not None:
            ctx.arrivals.reassign(int(data["slot"]), int(data["workers"]), int(data["from_k"]))
            ctx.arrivals.start()

    def _payload(self, ctx: RunContext) -> dict[str, Any]:
        lines, self.outbox.lines = self.outbox.lines, []
        counts = ctx.recorder.take_counts()
        return {
            "lines": lines,
            "counts": {str(k): list(v) for k, v in counts.items()},
            "connected": ctx.connected,
        }

    def _send_every_second(self, ctx: RunContext) -> None:
        told = 0  # users connected, as the master last heard
        while not ctx.closing and self.ctx is ctx:
            # Every second, and more often while the pool connects: second 0 waits for it.
            gevent.sleep(SEND_EVERY_S if ctx.started else SEND_EVERY_S / 10)
            if ctx.closing or self.ctx is not ctx:
                return
            payload = self._payload(ctx)
            if payload["lines"] or payload["counts"] or payload["connected"] != told:
                told = payload["connected"]
                self.runner.send_message(OUTCOMES, payload)

    def _on_finish(self, environment: Environment, msg: Any, **_: Any) -> None:
        ctx = self.ctx
        if ctx is None:
            self.runner.send_message(FINAL, {"lines": [], "counts": {}})
            return
        ctx.closing = True
        if ctx.arrivals is not None:
            ctx.arrivals.close()
        deadline = time.monotonic() + float(msg.data["timeout_s"])
        while ctx.recorder.open_payments and time.monotonic() < deadline:
            gevent.sleep(0.05)
        ctx.recorder.close_open(ctx.now_s())
        self.runner.send_message(FINAL, self._payload(ctx))

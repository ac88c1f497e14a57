"""What the active faults do to one request, stage by stage, in the order of the pipeline:
edge (latency, error, timeout, rate limit) → merchant → risk → channel → response (lost,
broken).

The network faults (latency, timeout, error at the edge; lost_response and network on the
response) act on every attempt of a matching route — a replay of a stored answer, a query, a
reversal, a refund, an account or merchant read — each attempt with its own seeded draw."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
import time
from pathlib import Path

from contract.codes import GatewayError
from contract.profile import Profile
from mock_gateway.channels import Slowdown
from mock_gateway.faults import Fault, FaultEngine, RequestFacts
from mock_gateway.faults.capacity import CapacityFault
from mock_gateway.faults.channel_outage import ChannelOutage
from mock_gateway.faults.db_stall import DbStall
from mock_gateway.faults.engine import draw
from mock_gateway.faults.error import Error
from mock_gateway.faults.latency import Latency
from mock_gateway.faults.merchant_unsupported import MerchantUnsupported
from mock_gateway.faults.network import Network
from mock_gateway.faults.rate_limit import RateLimit
from mock_gateway.faults.risk_strict import RiskStrict
from mock_gateway.faults.timeout import Timeout
from mock_gateway.ratelimit import Limiter

NO_SLOWDOWN = Slowdown()


class Chaos:
    def __init__(self, engine: FaultEngine, profile: Profile, db_path: Path, seed: int) -> None:
        self.engine = engine
        self.profile = profile
        self._db_path = db_path
        self._seed = seed
        self._limiter = Limiter()
        self._stalls: dict[str, asyncio.Task[None]] = {}
        # Set when a stall ends: the thread holding the lock lets go at once, not after hold_ms.
        self._stall_stops: dict[str, threading.Event] = {}
        engine.on_activate.append(self._activated)
        engine.on_deactivate.append(self._deactivated)

    # -- edge --------------------------------------------------------------------------------

    async def edge(self, facts: RequestFacts) -> None:
        """Faults that act before a request is handled; raises the injected error."""
        engine = self.engine
        fault = engine.match("latency", facts)
        if fault is not None:
            latency = fault.spec.params
            assert isinstance(latency, Latency)
            engine.hit(fault, facts)
            delay_s = latency.ms / 1000
            if latency.jittered:
                # Drawn per attempt of the request key, not in arrival order: a replay waits a
                # delay of its own, and the n-th attempt of a key always the same one.
                attempt = engine.attempt(fault, "latency", facts.key)
                delay_s = latency.delay_s(random.Random(f"{fault.spec.seed}:latency:{attempt}"))
            await asyncio.sleep(delay_s)
        fault = engine.match("error", facts)
        if fault is not None:
            params = fault.spec.params
            assert isinstance(params, Error)
            if params.rate >= 1.0 or engine.chance(fault, "error", facts.key) < params.rate:
                engine.hit(fault, facts)
                retry_after = (
                    self.profile.capacity.retry_after_s
                    if params.code in ("SYSTEM_BUSY", "RATE_LIMITED")
                    else None
                )
                raise GatewayError(params.code, retry_after_s=retry_after, detail="(injected)")
        if facts.route != "pay":
            fault = engine.match("timeout", facts)
            if fault is not None:
                assert isinstance(fault.spec.params, Timeout)
                engine.hit(fault, facts)
                await asyncio.sleep(fault.spec.params.ms / 1000)
                raise GatewayError("CHANNEL_TIMEOUT")
        self.rate_limit(facts)

    def rate_limit(self, facts: RequestFacts) -> None:
        """At the edge: global limits, and per-user ones when the path or the payment's body
        names the user."""
        for fault in self.engine.active("rate_limit"):
            params = fault.spec.params
            assert isinstance(params, RateLimit)
            if params.per == "user" and facts.user_id is None:
                continue
            if not self.engine.matches(fault, facts):
                continue
            who = facts.user_id or "" if params.per == "user" else "*"
            wait_s = self._limiter.take(fault.id, params.rps, who)
            if wait_s is not None:
                self.engine.hit(fault, facts)
                raise GatewayError("RATE_LIMITED", retry_after_s=wait_s)

    def capacity_limits(self) -> tuple[int | None, int]:
        cap = self.profile.capacity
        limit, queue = cap.max_inflight, cap.queue
        for fault in self.engine.active("capacity"):
            params = fault.spec.params
            assert isinstance(params, CapacityFault)
            limit = params.max_inflight if limit is None else min(limit, params.max_inflight)
            if params.queue is not None:
                queue = min(queue, params.queue)
        return limit, queue

    def shed(self, facts: RequestFacts) -> None:
        """A request refused by admission control: mark the capacity faults that shrank it."""
        cap = self.profile.capacity
        for fault in self.engine.active("capacity"):
            params = fault.spec.params
            assert isinstance(params, CapacityFault)
            smaller = cap.max_inflight is None or params.max_inflight < cap.max_inflight
            if smaller or (params.queue is not None and params.queue < cap.queue):
                self.engine.hit(fault, facts)

    # -- payment decisions -------------------------------------------------------------------

    def merchant_refuses(self, facts: RequestFacts) -> bool:
        fault = self.engine.match("merchant_unsupported", facts)
        if fault is None:
            return False
        params = fault.spec.params
        assert isinstance(params, MerchantUnsupported)
        if params.merchant_ids:
            refused = facts.merchant_id in params.merchant_ids
        else:
            # Keyed on the merchant, not the payment: a merchant is broken for everyone.
            share = params.share or 0.0
            refused = draw(fault.spec.seed, "merchant", facts.merchant_id or "") < share
        if refused:
            self.engine.hit(fault, facts)
        return refused

    def risk_declines(self, facts: RequestFacts) -> bool:
        rate = self.profile.risk_false_positive_rate
        if rate and draw(self._seed, "risk", facts.key) < rate:
            return True
        fault = self.engine.match("risk_strict", facts)
        if fault is None:
            return False
        params = fault.spec.params
        assert isinstance(params, RiskStrict)
        if self.engine.chance(fault, "risk", facts.key) < params.false_positive_rate:
            self.engine.hit(fault, facts)
            return True
        return False

    def pay_timeout_s(self, facts: RequestFacts) -> float | None:
        """How long a payment attempt hangs before `504 CHANNEL_TIMEOUT` (None: it does not):
        in the channel stage for a new payment, before the stored answer for a replay."""
        fault = self.engine.match("timeout", facts)
        if fault is None:
            return None
        assert isinstance(fault.spec.params, Timeout)
        self.engine.hit(fault, facts)
        return fault.spec.params.ms / 1000

    def channel(self, facts: RequestFacts, channel: str) -> Slowdown:
        for fault in self.engine.active("channel_outage"):
            params = fault.spec.params
            assert isinstance(params, ChannelOutage)
            if params.channel != channel or not self.engine.matches(fault, facts, channel):
                continue
            self.engine.hit(fault, facts)
            if params.mode == "error":
                return Slowdown(fail=True, fault_id=fault.id)
            if params.mode == "blackhole":
                return Slowdown(hang=True, fault_id=fault.id)
            return Slowdown(extra_ms=params.slow_ms, fault_id=fault.id)
        return NO_SLOWDOWN

    # -- response ----------------------------------------------------------------------------

    def loses_response(self, facts: RequestFacts) -> bool:
        """Whether this attempt's answer vanishes: the request was handled (a payment, a
        reversal or a refund committed), then the connection is dropped. Any matching route,
        replays included, each attempt with its own draw."""
        fault = self.engine.match("lost_response", facts)
        if fault is not None:
            self.engine.hit(fault, facts)
        return fault is not None

    def network(self, facts: RequestFacts) -> Network | None:
        fault = self.engine.match("network", facts)
        if fault is None:
            return None
        self.engine.hit(fault, facts)
        assert isinstance(fault.spec.params, Network)
        return fault.spec.params

    # -- background faults -------------------------------------------------------------------

    def _activated(self, fault: Fault) -> None:
        if isinstance(fault.spec.params, DbStall):
            stop = self._stall_stops[fault.id] = threading.Event()
            self._stalls[fault.id] = asyncio.get_running_loop().create_task(
                self._stall(fault.spec.params, stop), name=f"db_stall {fault.id}"
            )

    def _deactivated(self, fault: Fault) -> None:
        stop = self._stall_stops.pop(fault.id, None)
        if stop is not None:
            stop.set()
        task = self._stalls.pop(fault.id, None)
        if task is not None:
            task.cancel()
        self._limiter.forget(fault.id)

    async def _stall(self, params: DbStall, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            await asyncio.to_thread(hold_write_lock, self._db_path, params.hold_ms / 1000, stop)
            if params.every_ms is None:
                continue
            await asyncio.sleep(max(0.0, params.every_ms / 1000 - (time.monotonic() - started)))

    async def close(self) -> None:
        for stop in self._stall_stops.values():
            stop.set()
        self._stall_stops.clear()
        for task in self._stalls.values():
            task.cancel()
        await asyncio.gather(*self._stalls.values(), return_exceptions=True)
        self._stalls.clear()


def hold_write_lock(path: Path, hold_s: float, stop: threading.Event) -> None:
    """Take the database's exclusive write lock from another connection and hold it for
    `hold_s`, or until `stop` is set."""
    if stop.is_set():
        return
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        stop.wait(hold_s)
        conn.execute("ROLLBACK")
    finally:
        conn.close()

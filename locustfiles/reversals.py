"""Pending reversals (冲正): the payments a resolving client still did not know the fate of
when its person left.

WeChat Pay's and Alipay's micropay rules do not let a terminal forget such a payment: it
keeps it and goes on trying until the payment is reversed or known not to have been taken,
and a merchant's order service closes an order that timed out in the same way. The person
was told what they were told (their payment line is written and stays as it is); this desk
is what gives their money back afterwards, so the report's ghost charges are those still
taken at the end of the run, and the desk's requests are in Locust's stats under names of
their own ("… (pending reversal)").

A few greenlets per Locust process, each with its own connection and seeded stream, work
through the queue until the run stops; none holds a user of the pool, whose size assumes
that a person ends within their deadline."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

import gevent
from gevent.queue import Empty, Queue

from locustfiles.client.gateway import GatewayClient
from locustfiles.outcomes import Payment

WORKERS = 4
NAME = " (pending reversal)"
"""Appended to the stats name of the desk's requests."""

NewClient = Callable[[random.Random], tuple[GatewayClient, Callable[[], None]]]
"""A client of its own for one of the desk's greenlets, and how to close its connections."""


class PendingReversals:
    def __init__(
        self,
        new_client: NewClient,
        seed: int,
        stopped: Callable[[], bool],
        workers: int = WORKERS,
    ) -> None:
        self._new_client = new_client
        self._seed = seed
        self._stopped = stopped
        self._workers = workers
        self._queue: Queue[tuple[Payment, bytes]] = Queue()
        self._greenlets: list[gevent.Greenlet] = []

    def submit(self, payment: Payment, body: bytes) -> None:
        """Keep `payment` (its line already written) until it is cleared or the run stops."""
        if not any(not g.dead for g in self._greenlets):  # the first, or a new test in the UI
            self._greenlets = [gevent.spawn(self._work, i) for i in range(self._workers)]
        # A copy: the person's line keeps the codes they saw, not the desk's.
        self._queue.put((replace(payment, codes=[]), body))

    def _work(self, index: int) -> None:
        rng = random.Random(f"{self._seed}:pending-reversals:{index}")
        client, close = self._new_client(rng)
        try:
            while not self._stopped():
                try:
                    payment, body = self._queue.get(timeout=1.0)
                except Empty:
                    continue
                client.reverse_pending(payment, body, self._stopped)
        finally:
            close()

"""The shared part of every paystorm user: a Locust slot holding the run context, a seeded
random stream, the gateway client and (open model) the arrival it was given. What a person
says to the gateway, and the app's retry and resolve policy, is `locustfiles.client`'s; user
classes only say what a person does."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace

import gevent
from locust import User
from locust.exception import CatchResponseError

from locustfiles.client.gateway import GatewayClient
from locustfiles.client.gevent_transport import GeventTransport
from locustfiles.client.transport import Answer, Request
from locustfiles.client.weak import WeakLink
from locustfiles.context import RunContext, context_of
from locustfiles.outcomes import Payment
from locustfiles.reversals import NAME as PENDING_NAME
from locustfiles.reversals import PendingReversals
from locustfiles.schedule import Ticket
from scenarios.people import arrival_seed


class PaystormUser(User):
    """Base of the paystorm users. A Locust user is a slot that serves one person after
    another; `client.person()` sets the link and the deadline of the one being served now."""

    abstract = True
    ctx: RunContext
    rng: random.Random
    client: GatewayClient
    transport: GeventTransport
    ticket: Ticket | None = None  # open model: the arrival this user was given, not yet begun
    serving: bool = False  # open model: busy with an arrival since its last wait

    def on_start(self) -> None:
        ctx = self.ctx = context_of(self.environment)
        self.rng = ctx.user_rng()
        self.transport = GeventTransport(self.host or "", on_request=self._report)
        self.client = GatewayClient(
            self.transport,
            ctx.scenario.client,
            self.rng,
            sleep=gevent.sleep,
            clock=time.monotonic,
            weak_transport=WeakLink(self.transport, self.rng, gevent.sleep),
            # ctx.recorder is replaced when the test starts: looked up at each attempt.
            attempted=lambda payment: ctx.recorder.attempted(payment),
            adapter=ctx.adapter,
        )

    def _report(self, request: Request, answer: Answer) -> None:
        """Every request in Locust's stats, by route name; a legitimate decline is a success
        there (the gateway did its job), any other code a failure named by it."""
        failure = self.ctx.adapter.read(answer).failure_text
        self.environment.events.request.fire(
            request_type=request.method,
            name=request.name,
            response_time=answer.elapsed_ms,
            response_length=len(answer.body),
            response=None,
            context={},
            exception=None if failure is None else CatchResponseError(failure),
        )

    def on_stop(self) -> None:
        # Stopped between taking an arrival and beginning it: offered, so counted.
        if self.ticket is not None and self.ctx.arrivals is not None:
            self.ctx.arrivals.drop(self.ticket)
            self.ticket = None
        self.transport.close()

    def begin(self) -> tuple[float, float] | None:
        """The next payment's intended start (seconds since t0) and how late it actually
        begins (ms): the arrival's due time in the open model, now in the closed one. None when
        an open-model user has no arrival yet (its first round; the wait brings one)."""
        if self.ctx.closing:
            # A distributed run's worker has sent its last outcomes: an arrival taken now is
            # dropped, and the user idles until the master stops it.
            if self.ticket is not None and self.ctx.arrivals is not None:
                self.ctx.arrivals.drop(self.ticket)
                self.ticket = None
            gevent.sleep(0.5)
            return None
        now_s = self.ctx.now_s()
        if self.ctx.arrivals is None:
            return now_s, 0.0
        ticket, self.ticket = self.ticket, None
        if ticket is None:
            return None
        # Arrival k is the same person in every run of a seed, whichever user serves it.
        self.rng.seed(arrival_seed(self.ctx.scenario.population.seed, ticket.k))
        return ticket.due_s, max(0.0, now_s - ticket.due_s) * 1000

    def finish(self, payment: Payment, code: str | None) -> None:
        payment.code = code
        self.ctx.recorder.finish(payment, time.time() - self.ctx.t0)

    def leave_pending(self, payment: Payment, body: bytes) -> None:
        """The person has left with `payment` still unknown: the desk of pending reversals
        keeps it (a POS terminal's or a merchant's order service's job, not the person's)."""
        ctx = self.ctx
        if ctx.reversals is None:
            ctx.reversals = PendingReversals(
                self._pending_client, ctx.scenario.population.seed, lambda: ctx.stopped
            )
        ctx.reversals.submit(payment, body)

    def _pending_client(self, rng: random.Random) -> tuple[GatewayClient, Callable[[], None]]:
        def report(request: Request, answer: Answer) -> None:
            self._report(replace(request, name=request.name + PENDING_NAME), answer)

        transport = GeventTransport(self.host or "", on_request=report)
        client = GatewayClient(
            transport,
            self.ctx.scenario.client,
            rng,
            sleep=gevent.sleep,
            clock=time.monotonic,
            adapter=self.ctx.adapter,
        )
        return client, transport.close

"""The open model's executor: payments start at the scenario's rate however slow the gateway is.

One scheduler greenlet per Locust process wakes about every millisecond and queues every
arrival due since its last wake-up, each ticket carrying its intended start. The pool's idle
users take them. A ticket that finds every user busy and still has none after
`DROP_AFTER_S` is dropped and counted in the second it was due, so offered load never falls
with the gateway.

A ticket that an idle user is already waiting for is never dropped, however long this
process takes to get round to it (a burst of answers, a collection): it starts late, its
lateness is recorded, and its latency counts from its intended start all the same. Only a
pool with no free user turns people away.

A user that has just finished releases whatever is due before it waits: in a burst of
answers (thousands at once when the target stalls and catches up), the event loop runs every
answer before any timer, so the scheduler's own wake-up would come only after the burst; the
users freed within it take the arrivals due meanwhile at once.
"""

from __future__ import annotations

import logging

import gevent
from gevent.queue import SimpleQueue
from locust import User

from contract import routes
from locustfiles.checkout import PaystormUser
from locustfiles.context import RunContext
from locustfiles.schedule import ArrivalSchedule, Ticket

DROP_AFTER_S = 0.010  # how long a ticket may wait for a free user
IDLE_NAP_S = 0.05  # longest sleep while nothing is due, so busy users stay sampled

log = logging.getLogger(__name__)


class ArrivalExecutor:
    """Releases one process's arrivals (worker `slot` of `workers`) to its pool of users."""

    def __init__(
        self,
        ctx: RunContext,
        *,
        slot: int = 0,
        workers: int = 1,
        drop_after_s: float = DROP_AFTER_S,
    ) -> None:
        scenario = ctx.scenario
        self._ctx = ctx
        self._schedule = ArrivalSchedule(
            scenario.load.stages,
            speed=scenario.speed,
            end_s=scenario.run_duration_s,
            slot=slot,
            workers=workers,
        )
        self._end_s = scenario.run_duration_s
        self._drop_after_s = drop_after_s
        self._queue: SimpleQueue[Ticket] = SimpleQueue()
        self._greenlet: gevent.Greenlet[[], None] | None = None
        self._closed = False
        self.busy = 0
        """Users serving an arrival now: the `users` column of the open model."""
        self._idle = 0  # users blocked waiting for an arrival: the queued tickets they will take

    def start(self) -> gevent.Greenlet[[], None]:
        """Start releasing arrivals, timed from `ctx.t0` (which the caller has just set)."""
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._release)
        return self._greenlet

    def reassign(self, slot: int, workers: int, from_k: int) -> None:
        """Distributed runs: this worker's share of the arrivals from `from_k` on."""
        self._schedule.reassign(slot, workers, from_k)
        if self._greenlet is not None and self._greenlet.dead and not self._closed:
            self._greenlet = gevent.spawn(self._release)  # it had run out of arrivals

    def _release(self) -> None:
        ctx, queue, schedule = self._ctx, self._queue, self._schedule
        while not (schedule.exhausted and queue.empty()):
            now = ctx.now_s()
            self._release_due(now)
            self._drop_stale(now)
            self._sample_busy(now)
            # Sleep until the next arrival is due (gevent rounds that up to its ~1 ms tick);
            # wake sooner while tickets wait, to drop the stale ones in time.
            nap = IDLE_NAP_S if queue.empty() else self._drop_after_s / 2
            gevent.sleep(max(0.0, min(schedule.next_due_s - ctx.now_s(), nap)))

    def _release_due(self, now_s: float) -> None:
        if self._greenlet is None or self._closed:
            return  # not started, or over: only the scheduler decides when arrivals begin
        for ticket in self._schedule.release(now_s):
            self._queue.put(ticket)

    def _drop_stale(self, now_s: float) -> None:
        # Tickets queue in release order, so the stale ones are at the head; as many as there
        # are idle users are theirs, however late they get to run.
        queue = self._queue
        while (
            queue.qsize() > self._idle
            and now_s - queue.peek_nowait().released_s > self._drop_after_s
        ):
            self.drop(queue.get_nowait())

    def _sample_busy(self, now_s: float) -> None:
        # Sampled at every take and wake-up, each second keeps its peak; none after the end,
        # so the last arrivals' users add no empty second.
        if now_s < self._end_s:
            self._ctx.recorder.users(now_s, self.busy)

    def take(self) -> Ticket:
        """The next arrival for a free user, blocking while none is due."""
        queue = self._queue
        self._release_due(self._ctx.now_s())
        while True:
            # A user that had to wait was free when its ticket came; one that finds tickets
            # queued takes them only while they are fresh, or while other users are idle
            # (then the ticket was never short of a user, only of this process's time).
            waited = queue.empty()
            if waited:
                self._idle += 1
                try:
                    ticket: Ticket = queue.get()
                finally:
                    self._idle -= 1
            else:
                ticket = queue.get()
            now_s = self._ctx.now_s()
            if waited or self._idle or now_s - ticket.released_s <= self._drop_after_s:
                self.busy += 1
                self._sample_busy(now_s)
                return ticket
            self.drop(ticket)

    def served(self) -> None:
        """A user finished the arrival it took."""
        self.busy -= 1

    def drop(self, ticket: Ticket) -> None:
        self._ctx.recorder.dropped(ticket.due_s)

    def close(self) -> None:
        """Stop releasing; tickets still queued count as dropped."""
        self._closed = True
        if self._greenlet is not None:
            self._greenlet.kill(block=True)
        while not self._queue.empty():
            self.drop(self._queue.get_nowait())


def connect(user: PaystormUser) -> None:
    """Open the user's connection before second 0, so that a spike does not wait for
    thousands of handshakes at once (nor for the target's accept queue to take them)."""
    try:
        # Outside Locust's stats: a warm-up is not a request of the run. The connection is
        # the one of the app's deadline, which most requests use.
        user.transport.connect(routes.HEALTHZ.path, user.client.deadline_s)
    except Exception:  # any failure: the connection opens on first use instead
        log.debug("paystorm: a user could not connect before second 0", exc_info=True)
    finally:
        user.ctx.connected += 1


def wait_for_arrival(user: User) -> float:
    """The open model's `wait_time`: no think time, an idle user waits for the next arrival.

    Waiting here rather than in the task keeps the user in Locust's waiting state, so the end
    of the run stops idle users at once instead of waiting `--stop-timeout` for them."""
    assert isinstance(user, PaystormUser)
    arrivals = user.ctx.arrivals
    assert arrivals is not None, "wait_for_arrival is the open model's wait_time"
    if user.serving:
        user.serving = False
        arrivals.served()
    user.ticket = arrivals.take()
    user.serving = True
    return 0.0

"""A weak mobile link as a transport wrapper — the seed's "your network" cause (网络不给力),
made reproducible: every request first waits the link's round trip, and a share of them is
sent on a connection that drops as the answer starts (the gateway did the work, the person
never hears of it).

The link's numbers are the scenario model's (`scenarios.people`), which also sizes the open
model's pool from them. Sleep and the random stream are the caller's: the user's seeded stream
under Locust, so a weak person's round trips and drops are the same run after run.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from locustfiles.client.transport import Answer, DroppingTransport, Request
from scenarios.people import (
    WEAK_DROP_SHARE,
    WEAK_RTT_CAP_S,
    WEAK_RTT_MEDIAN_S,
    WEAK_RTT_SIGMA,
    WEAK_TIMEOUT_S,
)


def weak_rtt_s(rng: random.Random) -> float:
    """The round trip one request of a weak link adds, before its answer can arrive."""
    return min(WEAK_RTT_CAP_S, rng.lognormvariate(0.0, WEAK_RTT_SIGMA) * WEAK_RTT_MEDIAN_S)


def person_deadline_s(app_timeout_s: float, *, weak: bool, own_s: float | None = None) -> float:
    """A person's deadline per request: the app's timeout, shorter on a weak link (people
    give up sooner there), and shorter again when they have one of their own (a POS till)."""
    deadline = min(app_timeout_s, WEAK_TIMEOUT_S) if weak else app_timeout_s
    return deadline if own_s is None else min(deadline, own_s)


class WeakLink:
    """Sends through `inner` as a weak mobile link would."""

    def __init__(
        self, inner: DroppingTransport, rng: random.Random, sleep: Callable[[float], object]
    ) -> None:
        self._inner = inner
        self._rng = rng
        self._sleep = sleep

    def send(self, request: Request) -> Answer:
        rng = self._rng
        self._sleep(weak_rtt_s(rng))  # the slow link, before any answer can arrive
        if rng.random() < WEAK_DROP_SHARE:
            return self._inner.send_and_drop(request)
        return self._inner.send(request)

"""How long the people of a scenario wait: per-request deadlines, the weak link's round trip
and the back-off bounds that the Locust users follow, and from them the longest one person
can keep a user of the pool busy (no Locust import here).

A pool smaller than the people in flight turns arrivals away; sizing it needs the worst case,
not the typical one, because the worst case is exactly what a spike past the knee produces.
"""

from __future__ import annotations

import hashlib

from scenarios.model import ClientPolicy

WEAK_TIMEOUT_S = 3.0
"""A person on a weak link gives up sooner than the app's own timeout (capped by it)."""
WEAK_RTT_MEDIAN_S = 0.25
WEAK_RTT_SIGMA = 0.8  # lognormal: mostly a few hundred ms, sometimes seconds
WEAK_RTT_CAP_S = 2.5
WEAK_DROP_SHARE = 0.05
"""Of a weak link's requests, the share whose connection drops once the request is out."""
POS_DEADLINE_S = 3.0
"""A terminal's timeout per request: the queue at the till will not wait longer."""
BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 5.0
"""Back-off between retries: exponential with full jitter from the base, never above the cap
(but never sooner than the gateway's Retry-After)."""


def request_s(deadline_s: float, *, weak: bool) -> float:
    """The longest one request takes: the person's deadline, plus a weak link's round trip
    (slept before the request is sent)."""
    return deadline_s + (WEAK_RTT_CAP_S if weak else 0.0)


def _payment_s(client: ClientPolicy, deadline_s: float, weak: bool, retry_after_s: float) -> float:
    """One POST with every retry and back-off the policy allows."""
    one = request_s(deadline_s, weak=weak)
    total = one * (client.max_retries + 1)
    if client.retry == "backoff":
        for retry in range(1, client.max_retries + 1):
            total += max(min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**retry), retry_after_s)
    return total


def longest_person_s(client: ClientPolicy, kind: str, *, weak: bool, retry_after_s: float) -> float:
    """The longest a person of `kind` (shopper, pos, refund) holds a user, from taking the
    arrival to the last answer: checkout page, every attempt and back-off, resolving an
    uncertain result up to the deadline (with the request in flight at the deadline) and the
    reversal. `retry_after_s` is the longest Retry-After the gateway may send."""
    timeout = client.timeout_s
    if kind == "pos":
        # The app shows the code (one request on the app's link), then the terminal posts
        # with its own short deadline and always resolves: query, then reverse.
        till = min(timeout, POS_DEADLINE_S)
        pay = _payment_s(client, till, False, retry_after_s)
        return request_s(timeout, weak=False) + pay + client.resolve_deadline_s + 2 * till
    deadline = min(timeout, WEAK_TIMEOUT_S) if weak else timeout
    one = request_s(deadline, weak=weak)
    pay = _payment_s(client, deadline, weak, retry_after_s)
    resolve = client.resolve_deadline_s + 2 * one if client.resolve_uncertain else 0.0
    shopper = one + pay + resolve  # the checkout page first
    if kind == "refund":
        # A refund has no page and is never reversed, but a refunder with nothing to refund
        # yet buys instead: the longer of the two.
        refund = pay + (client.resolve_deadline_s + one if client.resolve_uncertain else 0.0)
        return max(refund, shopper)
    return shopper


def arrival_seed(seed: int, k: int) -> str:
    """The seed of the open model's arrival `k`: who arrives, their link, basket, key and every
    later draw of theirs (back-off, the weak link's round trips) come from it, so two runs of a
    scenario and seed start the same payments whichever Locust user serves each one."""
    return f"{seed}:a{k}"


def run_key_prefix(seed: int) -> str:
    """The idempotency keys' prefix of a run against a fresh embedded gateway: the same for
    every run of a seed, so the same payments carry the same keys and draw the same seeded
    faults (the draws are keyed by the payment's key)."""
    return hashlib.blake2s(f"paystorm:{seed}".encode(), digest_size=4).hexdigest()

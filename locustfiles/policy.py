"""The client's retry policy as pure functions: which codes are worth another attempt, whether
the scenario's client makes one, and how long it waits first (no Locust or gevent here).

Retries always reuse the payment's idempotency key. A code is retryable when the gateway's
catalogue says so, and for the two client-side failures where the request may never have
arrived (`CLIENT_TIMEOUT`, `CONNECTION_ERROR`); anything else — a decline, a malformed
answer, a code nobody knows — is final."""

from __future__ import annotations

import random

from contract.codes import CATALOGUE, CLIENT_TIMEOUT, CONNECTION_ERROR
from scenarios.model import ClientPolicy

BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 5.0
CLIENT_RETRYABLE = frozenset({CLIENT_TIMEOUT, CONNECTION_ERROR})
"""Client-side codes worth replaying the key for: the request may not have got through."""


def retryable(code: str | None) -> bool:
    """Whether an answer with `code` (None: success) is worth another attempt."""
    if code is None:
        return False
    spec = CATALOGUE.get(code)
    return spec.retryable if spec is not None else code in CLIENT_RETRYABLE


def should_retry(policy: ClientPolicy, code: str | None, retries: int) -> bool:
    """After an answer with `code`, and `retries` retries already made: one more?"""
    if policy.retry == "none" or retries >= policy.max_retries:
        return False
    return retryable(code)


def backoff_s(
    rng: random.Random,
    retry: int,
    retry_after_s: float | None = None,
    *,
    base_s: float = BACKOFF_BASE_S,
    cap_s: float = BACKOFF_CAP_S,
) -> float:
    """Exponential back-off with full jitter before retry number `retry` (1, 2, …):
    uniform(0, min(cap, base·2^retry)), never sooner than the answer's Retry-After."""
    delay = rng.uniform(0, min(cap_s, base_s * 2**retry))
    return max(delay, retry_after_s or 0.0)


def retry_delay_s(
    policy: ClientPolicy, rng: random.Random, retry: int, retry_after_s: float | None
) -> float:
    """How long the client waits before retry number `retry`: `immediate` not at all (the
    retry storm), `backoff` the jittered back-off."""
    if policy.retry == "backoff":
        return backoff_s(rng, retry, retry_after_s)
    return 0.0


def replay_wait_s(
    rng: random.Random, tries: int, retry_after_s: float | None, remaining_s: float
) -> float:
    """Resolving an uncertain result: the back-off before replay number `tries`, cut short at
    the deadline (`remaining_s` away), so the reversal is never late."""
    return min(backoff_s(rng, tries, retry_after_s), max(0.0, remaining_s))

"""The client's retry policy (locustfiles/policy.py): which answers are retried, how many
times, and how long the client waits first — pure functions, no Locust or gevent."""

from __future__ import annotations

import itertools
import random
import statistics
import subprocess
import sys

import pytest

from contract.codes import (
    BAD_RESPONSE,
    CATALOGUE,
    CLIENT_TIMEOUT,
    CONNECTION_ERROR,
    LEGITIMATE_DECLINES,
    REVERSED_BY_CLIENT,
    RUN_ENDED,
)
from locustfiles.policy import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    backoff_s,
    replay_wait_s,
    retry_delay_s,
    retryable,
    should_retry,
)
from scenarios.model import ClientPolicy

IMMEDIATE = ClientPolicy(retry="immediate", max_retries=3)
BACKOFF = ClientPolicy(retry="backoff", max_retries=3)
DRAWS = 4_000


def _retries_made(policy: ClientPolicy, code: str | None) -> int:
    """Drive the decision as GatewayClient.pay does: the same answer every time."""
    retries = 0
    while should_retry(policy, code, retries):
        retries += 1
        assert retries <= 100, "no end to the retries"
    return retries


def _delays(retry: int, retry_after_s: float | None = None, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [backoff_s(rng, retry, retry_after_s) for _ in range(DRAWS)]


@pytest.mark.parametrize("policy", [IMMEDIATE, BACKOFF], ids=["immediate", "backoff"])
def test_only_retryable_codes_are_retried(policy: ClientPolicy) -> None:
    retried = {code for code in CATALOGUE if should_retry(policy, code, 0)}
    assert retried == {code for code, spec in CATALOGUE.items() if spec.retryable}
    # Both sides of the catalogue are there: the check above compares something.
    assert {"SYSTEM_BUSY", "CHANNEL_TIMEOUT", "RATE_LIMITED", "PAYMENT_PENDING"} <= retried
    for code, spec in CATALOGUE.items():
        if not spec.retryable:
            assert not retryable(code), code
            assert _retries_made(policy, code) == 0, code
    # A decline is final, legitimate or not: paying again under the key changes nothing.
    for code in (*LEGITIMATE_DECLINES, "RISK_DECLINED", "MERCHANT_NOT_SUPPORTED"):
        assert _retries_made(policy, code) == 0, code
    # The request may never have arrived: replay it.
    for code in (CLIENT_TIMEOUT, CONNECTION_ERROR):
        assert retryable(code)
        assert _retries_made(policy, code) == policy.max_retries, code
    # A success, an answer the client could not read, and the client's own verdicts are final;
    # so is a code outside the catalogue.
    final: tuple[str | None, ...] = (None, BAD_RESPONSE, RUN_ENDED, REVERSED_BY_CLIENT, "NO_CODE")
    for final_code in final:
        assert not retryable(final_code), final_code
        assert _retries_made(policy, final_code) == 0, final_code


@pytest.mark.parametrize("max_retries", [0, 1, 2, 5])
def test_the_retries_stop_at_max_retries(max_retries: int) -> None:
    for policy in (
        ClientPolicy(retry="immediate", max_retries=max_retries),
        ClientPolicy(retry="backoff", max_retries=max_retries),
    ):
        assert _retries_made(policy, "SYSTEM_BUSY") == max_retries
        assert _retries_made(policy, CLIENT_TIMEOUT) == max_retries
        assert not should_retry(policy, "SYSTEM_BUSY", max_retries)
        assert not should_retry(policy, "SYSTEM_BUSY", max_retries + 1)


def test_a_client_without_retries_never_retries() -> None:
    policy = ClientPolicy(retry="none", max_retries=5)
    for code in (*CATALOGUE, CLIENT_TIMEOUT, CONNECTION_ERROR):
        assert _retries_made(policy, code) == 0, code


def test_immediate_retries_do_not_wait_even_when_told_to() -> None:
    rng = random.Random(1)
    state = rng.getstate()
    for retry in range(1, 8):
        assert retry_delay_s(IMMEDIATE, rng, retry, None) == 0.0
        assert retry_delay_s(IMMEDIATE, rng, retry, 2.0) == 0.0  # the retry storm
    assert rng.getstate() == state  # and draws nothing: a run stays reproducible


def test_backoff_retries_wait_the_jittered_back_off() -> None:
    a, b = random.Random(5), random.Random(5)
    for retry in range(1, 6):
        assert retry_delay_s(BACKOFF, a, retry, None) == backoff_s(b, retry, None)
        assert retry_delay_s(BACKOFF, a, retry, 1.5) == backoff_s(b, retry, 1.5) >= 1.5


@pytest.mark.parametrize("retry", [1, 2, 3, 4, 5])
def test_full_jitter_spreads_evenly_from_zero_to_the_exponential_bound(retry: int) -> None:
    bound = BACKOFF_BASE_S * 2**retry
    assert bound < BACKOFF_CAP_S  # below the cap here
    delays = _delays(retry, seed=retry)
    assert all(0.0 <= d <= bound for d in delays)
    # Full jitter: the whole range is used, from next to nothing to the bound itself …
    assert min(delays) < 0.01 * bound
    assert max(delays) > 0.99 * bound
    # … evenly (uniform: mean bound/2, a quarter of the draws below bound/4).
    assert statistics.fmean(delays) == pytest.approx(bound / 2, rel=0.05)
    below = sum(d < bound / 4 for d in delays) / DRAWS
    assert below == pytest.approx(0.25, abs=0.03)


def test_the_back_off_doubles_with_each_retry() -> None:
    means = [statistics.fmean(_delays(retry)) for retry in (1, 2, 3, 4)]
    for before, after in itertools.pairwise(means):
        assert after / before == pytest.approx(2.0, rel=0.1)


@pytest.mark.parametrize("retry", [6, 10, 30, 200])
def test_the_back_off_is_capped(retry: int) -> None:
    assert BACKOFF_BASE_S * 2**retry > BACKOFF_CAP_S
    delays = _delays(retry)
    assert max(delays) <= BACKOFF_CAP_S
    assert max(delays) > 0.99 * BACKOFF_CAP_S and min(delays) < 0.01 * BACKOFF_CAP_S


def test_retry_after_is_a_floor() -> None:
    # Longer than any jittered delay of retry 1 (at most 0.2 s): exactly Retry-After.
    assert set(_delays(1, retry_after_s=1.5)) == {1.5}
    # Inside the jitter's range: never sooner, later when the draw says so.
    delays = _delays(2, retry_after_s=0.1)  # uniform(0, 0.4)
    assert min(delays) == 0.1
    assert sum(d == 0.1 for d in delays) / DRAWS == pytest.approx(0.25, abs=0.03)
    assert max(delays) > 0.39
    # Above the cap too: the server said when, and the client does not come back sooner.
    assert set(_delays(30, retry_after_s=BACKOFF_CAP_S + 2)) == {BACKOFF_CAP_S + 2}
    # No Retry-After, or zero: the jitter alone.
    assert _delays(3, retry_after_s=0.0) == _delays(3, retry_after_s=None)


def test_the_back_off_is_reproducible_from_the_seed() -> None:
    assert _delays(3, seed=7) == _delays(3, seed=7)
    assert _delays(3, seed=7) != _delays(3, seed=8)


def test_a_replay_while_resolving_never_waits_past_the_deadline() -> None:
    rng = random.Random(2)
    for tries in range(1, 12):
        for remaining in (0.0, 0.01, 0.3, 2.0, 60.0):
            wait = replay_wait_s(rng, tries, 1.0, remaining)
            assert 0.0 <= wait <= remaining
            if remaining >= BACKOFF_CAP_S:
                assert wait >= 1.0  # Retry-After still holds when there is time for it
        assert replay_wait_s(rng, tries, None, -1.0) == 0.0  # already past: replay at once


def test_the_policy_and_timeline_modules_import_no_locust_or_gevent() -> None:
    # Importing Locust monkey-patches the process; these modules are tested in-process.
    probe = (
        "import sys, locustfiles.policy, locustfiles.timeline;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'locust', 'gevent', 'greenlet'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr

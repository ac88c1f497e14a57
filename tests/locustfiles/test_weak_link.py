"""The weak mobile link as a transport wrapper (locustfiles/client/weak.py): the round trip
slept before each request, the share of requests whose connection drops, all drawn from the
person's seeded stream in a fixed order. Fake inner transport, fake sleep."""

from __future__ import annotations

import random
from collections import Counter

from contract.codes import CONNECTION_ERROR
from locustfiles.client.transport import Request
from locustfiles.client.weak import WeakLink, weak_rtt_s
from locustfiles.policy import backoff_s
from scenarios.model import ClientPolicy
from scenarios.people import WEAK_DROP_SHARE, WEAK_RTT_CAP_S, WEAK_TIMEOUT_S
from tests.locustfiles.fakes import FakeClock, ScriptedTransport, client, error, ok, payment

SENDS = 4_000
DROPS_FIRST = 6  # a seed whose first weak request drops and whose second does not


def test_a_weak_link_adds_a_heavy_tailed_capped_round_trip() -> None:
    rng = random.Random(1)
    rtts = sorted(weak_rtt_s(rng) for _ in range(5_000))
    assert 0.15 < rtts[len(rtts) // 2] < 0.35  # median near WEAK_RTT_MEDIAN_S
    assert rtts[-1] <= WEAK_RTT_CAP_S and rtts[int(0.99 * len(rtts))] > 1.0


def test_each_request_first_waits_the_round_trip_then_a_share_is_dropped() -> None:
    events: list[str] = []
    inner = ScriptedTransport(then=ok())
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        events.append("sleep")
        clock.sleep(seconds)

    link = WeakLink(inner, random.Random(9), sleep)
    request = Request("GET", "/healthz", "/healthz")
    outcomes: Counter[str | int | None] = Counter()
    for _ in range(SENDS):
        before = len(inner.dropped)
        answer = link.send(request)
        dropped = len(inner.dropped) > before
        events.append("drop" if dropped else "send")
        outcomes[answer.failure if dropped else answer.status] += 1
    # The round trip comes before any answer can, every time.
    assert events[0::2] == ["sleep"] * SENDS and "sleep" not in events[1::2]
    # The sleeps and drops are the seeded stream's, drawn in this order per request.
    rng = random.Random(9)
    expected_sleeps, expected_drops = [], 0
    for _ in range(SENDS):
        expected_sleeps.append(weak_rtt_s(rng))
        expected_drops += rng.random() < WEAK_DROP_SHARE
    assert clock.sleeps == expected_sleeps
    assert len(inner.dropped) == expected_drops == outcomes["connection"]
    assert abs(expected_drops / SENDS - WEAK_DROP_SHARE) < 0.015
    assert len(inner.sent) == SENDS - expected_drops


def test_a_dropped_answer_is_a_connection_error_and_is_retried() -> None:
    inner = ScriptedTransport(then=ok(payment_id="pay_1", status="SUCCEEDED"))
    clock = FakeClock()
    rng = random.Random(DROPS_FIRST)  # one stream for the person: link and back-off alike
    link = WeakLink(inner, rng, clock.sleep)
    policy = ClientPolicy(retry="immediate", max_retries=1)
    gateway, _ = client(inner, policy, rng=rng, clock=clock, weak_transport=link)
    gateway.person(weak=True)
    p = payment()
    assert gateway.pay(p, b"{}").code is None
    assert p.codes == [CONNECTION_ERROR] and p.attempts == 2
    assert len(inner.dropped) == len(inner.sent) == 1
    assert inner.dropped[0].headers["Idempotency-Key"] == p.key
    assert inner.dropped[0].deadline_s == min(policy.timeout_s, WEAK_TIMEOUT_S)


def test_a_weak_persons_draws_keep_their_order_across_link_and_back_off() -> None:
    # Per attempt: the link's round trip, its drop draw, then the back-off before a retry.
    inner = ScriptedTransport(then=error("SYSTEM_BUSY"))
    clock = FakeClock()
    policy = ClientPolicy(retry="backoff", max_retries=3)
    rng = random.Random(11)
    link = WeakLink(inner, rng, clock.sleep)
    gateway, _ = client(inner, policy, rng=rng, clock=clock, weak_transport=link)
    gateway.person(weak=True)
    gateway.pay(payment(), b"{}")
    replay = random.Random(11)
    expected = []
    for attempt in range(policy.max_retries + 1):
        expected.append(weak_rtt_s(replay))
        assert replay.random() >= WEAK_DROP_SHARE  # this seed drops none: each answers busy
        if attempt < policy.max_retries:
            expected.append(backoff_s(replay, attempt + 1))
    assert clock.sleeps == expected

"""The mock gateway's client (locustfiles/client/gateway.py) driven in-process: a scripted
transport answers, a fake clock passes only in the client's sleeps. The retry loop, resolving
an uncertain result (replay or query, then reverse), refunds, and what the payment line
records."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from contract.codes import BAD_RESPONSE, CATALOGUE, CLIENT_TIMEOUT, REVERSED_BY_CLIENT
from contract.lines import REFUND
from locustfiles.client.gateway import PENDING_CAP_S
from locustfiles.client.transport import Request
from locustfiles.outcomes import Recorder
from locustfiles.policy import backoff_s, replay_wait_s
from scenarios.model import ClientPolicy
from scenarios.people import POS_DEADLINE_S, WEAK_TIMEOUT_S
from tests.locustfiles.fakes import (
    FakeClock,
    ScriptedTransport,
    client,
    error,
    ok,
    payment,
    timeout,
)

BODY = b'{"amount": 1500}'
BACKOFF = ClientPolicy(retry="backoff", max_retries=3)
RESOLVING = ClientPolicy(resolve_uncertain=True, resolve_deadline_s=2.0)


def _keys(transport: ScriptedTransport) -> set[str | None]:
    return {r.headers.get("Idempotency-Key") for r in transport.sent}


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_the_retry_loop_retries_only_retryable_codes_up_to_max_retries(code: str) -> None:
    transport = ScriptedTransport(then=error(code))
    gateway, _ = client(transport, BACKOFF)
    p = payment()
    ex = gateway.pay(p, BODY)
    attempts = 1 + BACKOFF.max_retries if CATALOGUE[code].retryable else 1
    assert ex.code == code
    assert len(transport.sent) == p.attempts == attempts
    assert p.codes == [code] * attempts
    assert transport.routes == ["POST /v1/payments"] * attempts  # a retry is no replay
    assert _keys(transport) == {p.key}  # every attempt under the payment's own key
    assert {r.body for r in transport.sent} == {BODY}


def test_client_side_failures_are_retried_and_a_bad_response_is_not() -> None:
    lost = ScriptedTransport(timeout(), timeout(), ok(payment_id="pay_1", status="SUCCEEDED"))
    gateway, _ = client(lost, BACKOFF)
    p = payment()
    assert gateway.pay(p, BODY).code is None
    assert p.attempts == 3 and p.codes == [CLIENT_TIMEOUT, CLIENT_TIMEOUT]
    assert p.payment_id == "pay_1"
    garbled = ScriptedTransport(then=ok(http_status=502))
    gateway, _ = client(garbled, BACKOFF)
    assert gateway.pay(payment(), BODY).code == BAD_RESPONSE
    assert len(garbled.sent) == 1


def test_back_off_delays_are_drawn_as_the_policy_says() -> None:
    transport = ScriptedTransport(then=error("SYSTEM_BUSY"))
    gateway, clock = client(transport, BACKOFF, seed=5)
    gateway.pay(payment(), BODY)
    rng = random.Random(5)
    assert clock.sleeps == [backoff_s(rng, retry) for retry in (1, 2, 3)]


def test_back_off_never_waits_less_than_retry_after() -> None:
    transport = ScriptedTransport(then=error("RATE_LIMITED", retry_after="3"))
    gateway, clock = client(transport, BACKOFF, seed=5)
    gateway.pay(payment(), BODY)
    assert len(clock.sleeps) == 3 and min(clock.sleeps) >= 3.0
    rng = random.Random(5)
    assert clock.sleeps == [backoff_s(rng, retry, 3.0) for retry in (1, 2, 3)]


def test_immediate_retries_do_not_wait_and_none_does_not_retry() -> None:
    storm = ScriptedTransport(then=error("SYSTEM_BUSY"))
    gateway, clock = client(storm, ClientPolicy(retry="immediate", max_retries=2))
    gateway.pay(payment(), BODY)
    assert len(storm.sent) == 3 and clock.sleeps == []
    once = ScriptedTransport(then=error("SYSTEM_BUSY"))
    gateway, clock = client(once, ClientPolicy(retry="none", max_retries=5))
    gateway.pay(payment(), BODY)
    assert len(once.sent) == 1 and clock.sleeps == []


def test_attempts_are_counted_in_the_recorder_per_second() -> None:
    recorder = Recorder()
    transport = ScriptedTransport(then=error("SYSTEM_BUSY"))
    gateway, _ = client(transport, BACKOFF, recorder=recorder)
    gateway.pay(payment(), BODY)
    assert recorder.seconds[1].attempts == 4


def test_resolve_replays_the_key_until_the_gateway_knows() -> None:
    pending = error("PAYMENT_PENDING", payment_id="pay_1")
    transport = ScriptedTransport(
        pending, pending, pending, ok(payment_id="pay_1", status="SUCCEEDED")
    )
    gateway, clock = client(transport, ClientPolicy(resolve_uncertain=True), seed=3)
    p = payment()
    first = gateway.pay(p, BODY)
    assert gateway.resolve(p, BODY, first) is None
    assert transport.routes == ["POST /v1/payments"] + ["POST /v1/payments (replay)"] * 3
    assert _keys(transport) == {p.key}
    assert p.attempts == 4 and p.codes == ["PAYMENT_PENDING"] * 3 and p.payment_id == "pay_1"
    # The waits between replays: the back-off, cut short at the deadline.
    rng, waited, expected = random.Random(3), 0.0, []
    for tries in (1, 2, 3):
        expected.append(replay_wait_s(rng, tries, None, 10.0 - waited))
        waited += expected[-1]
    assert clock.sleeps == expected


def _pending_until_reversed(reversal_status: str | None) -> ScriptedTransport:
    def answer(request: Request) -> object:
        if request.path.endswith("/reverse"):
            if reversal_status is None:
                return error("SYSTEM_BUSY")
            return ok(payment_id="pay_7", status=reversal_status)
        return error("PAYMENT_PENDING", payment_id="pay_7")

    return ScriptedTransport(timeout(), then=answer)  # type: ignore[arg-type]


def test_resolve_reverses_a_payment_still_unknown_at_the_deadline() -> None:
    transport = _pending_until_reversed("REVERSED")
    gateway, clock = client(transport, RESOLVING)
    p = payment()
    first = gateway.pay(p, BODY)
    assert first.code == CLIENT_TIMEOUT
    assert gateway.resolve(p, BODY, first) == REVERSED_BY_CLIENT
    assert sum(clock.sleeps) == pytest.approx(RESOLVING.resolve_deadline_s)  # not a moment more
    reversal = transport.sent[-1]
    assert (reversal.method, reversal.path) == ("POST", "/v1/payments/pay_7/reverse")
    assert reversal.name == "/v1/payments/[id]/reverse"
    assert "Idempotency-Key" not in reversal.headers
    replays = transport.routes[1:-1]
    assert replays and set(replays) == {"POST /v1/payments (replay)"}
    assert p.attempts == len(transport.sent) - 1  # the reversal is no attempt at paying
    assert p.codes[0] == CLIENT_TIMEOUT and p.codes[-1] == REVERSED_BY_CLIENT


@pytest.mark.parametrize("captured", ["SUCCEEDED", "PARTIALLY_REFUNDED"])
def test_a_reversal_that_finds_the_payment_captured_resolves_to_success(captured: str) -> None:
    transport = _pending_until_reversed(captured)
    gateway, _ = client(transport, RESOLVING)
    p = payment()
    assert gateway.resolve(p, BODY, gateway.pay(p, BODY)) is None
    assert transport.sent[-1].path.endswith("/reverse")
    assert REVERSED_BY_CLIENT not in p.codes


def test_a_failed_reversal_leaves_the_outcome_unknown() -> None:
    transport = _pending_until_reversed(None)
    gateway, _ = client(transport, RESOLVING)
    p = payment()
    assert gateway.resolve(p, BODY, gateway.pay(p, BODY)) == "PAYMENT_PENDING"
    assert transport.sent[-1].path.endswith("/reverse")


def test_without_a_payment_id_nothing_is_reversed() -> None:
    transport = ScriptedTransport(then=timeout())
    gateway, _ = client(transport, RESOLVING)
    p = payment()
    assert gateway.resolve(p, BODY, gateway.pay(p, BODY)) == CLIENT_TIMEOUT
    assert len(transport.sent) > 2
    assert not any(r.path.endswith("/reverse") for r in transport.sent)


def test_resolve_stops_at_the_first_final_answer() -> None:
    transport = ScriptedTransport(timeout(), error("INSUFFICIENT_CREDIT", payment_id="pay_2"))
    gateway, _ = client(transport, RESOLVING)
    p = payment()
    assert gateway.resolve(p, BODY, gateway.pay(p, BODY)) == "INSUFFICIENT_CREDIT"
    assert len(transport.sent) == 2


@pytest.mark.parametrize("busy", ["IDEMPOTENCY_IN_PROGRESS", "SYSTEM_BUSY", "RATE_LIMITED"])
def test_a_refusal_worth_retrying_does_not_settle_an_uncertain_payment(busy: str) -> None:
    # After its own attempt timed out, the client's replay may find that attempt still
    # holding the key, or be refused before the key is looked up: neither says whether it
    # was charged. Resolving goes on; at the deadline the payment is reversed.
    def answer(request: Request) -> object:
        if request.path.endswith("/reverse"):
            return ok(payment_id="pay_9", status="REVERSED")
        return error(busy, payment_id="pay_9")

    transport = ScriptedTransport(timeout(), then=answer)  # type: ignore[arg-type]
    gateway, clock = client(transport, RESOLVING)
    p = payment()
    assert gateway.resolve(p, BODY, gateway.pay(p, BODY)) == REVERSED_BY_CLIENT
    assert sum(clock.sleeps) == pytest.approx(RESOLVING.resolve_deadline_s)
    assert transport.sent[-1].path == "/v1/payments/pay_9/reverse"
    assert p.codes[1:-1] and set(p.codes[1:-1]) == {busy}


def test_a_retry_refused_as_busy_after_a_timeout_leaves_the_payment_to_resolve() -> None:
    # The first attempt timed out (it may have charged); the retry was shed. The last
    # answer is a refusal, but the payment is as uncertain as after the first attempt.
    policy = ClientPolicy(retry="immediate", max_retries=1, resolve_uncertain=True)
    transport = ScriptedTransport(timeout(), error("SYSTEM_BUSY"))
    gateway, _ = client(transport, policy)
    p = payment()
    ex = gateway.pay(p, BODY)
    assert ex.code == "SYSTEM_BUSY" and gateway.needs_resolving(p, ex)
    shed = payment()
    only_busy = ScriptedTransport(then=error("SYSTEM_BUSY"))
    gateway, _ = client(only_busy, policy)
    assert not gateway.needs_resolving(shed, gateway.pay(shed, BODY))  # never charged


def test_a_refund_still_unknown_at_the_deadline_keeps_its_uncertain_code() -> None:
    transport = ScriptedTransport(timeout(), then=error("SYSTEM_BUSY"))
    gateway, _ = client(transport, RESOLVING)
    line = payment(kind=REFUND, payment_id="pay_3")
    assert gateway.resolve_refund(line, BODY, gateway.refund(line, BODY)) == CLIENT_TIMEOUT


def test_an_unreversed_payment_after_busy_replays_stays_unknown() -> None:
    transport = ScriptedTransport(timeout(), then=error("SYSTEM_BUSY"))
    gateway, _ = client(transport, RESOLVING)
    p = payment()
    # No payment id to reverse, and no answer that says what became of it: unknown, as the
    # first attempt left it — not the busy refusal of the last replay.
    assert gateway.resolve(p, BODY, gateway.pay(p, BODY)) == CLIENT_TIMEOUT


def test_a_pos_terminal_queries_the_payment_until_known_within_its_deadline() -> None:
    transport = ScriptedTransport(
        error("PAYMENT_PENDING", payment_id="pay_3"),
        ok(payment_id="pay_3", status="PENDING"),
        ok(payment_id="pay_3", status="SUCCEEDED"),
    )
    gateway, _ = client(transport, ClientPolicy(timeout_s=5.0))
    gateway.person(weak=False, deadline_s=POS_DEADLINE_S)
    p = payment(kind="pos")
    assert gateway.resolve(p, BODY, gateway.pay(p, BODY), query=True) is None
    assert transport.routes == ["POST /v1/payments"] + ["GET /v1/payments/[id]"] * 2
    assert transport.sent[1].path == "/v1/payments/pay_3"
    assert p.attempts == 1  # a query is no attempt at paying
    assert p.codes == ["PAYMENT_PENDING", "PAYMENT_PENDING"]
    assert {r.deadline_s for r in transport.sent} == {min(5.0, POS_DEADLINE_S)}


def test_a_pos_terminal_replays_until_it_has_an_id_to_query() -> None:
    transport = ScriptedTransport(
        timeout(),
        error("PAYMENT_PENDING", payment_id="pay_4"),
        ok(payment_id="pay_4", status="SUCCEEDED"),
    )
    gateway, _ = client(transport)
    p = payment(kind="pos")
    assert gateway.resolve(p, BODY, gateway.pay(p, BODY), query=True) is None
    assert transport.routes == [
        "POST /v1/payments",
        "POST /v1/payments (replay)",
        "GET /v1/payments/[id]",
    ]


@pytest.mark.parametrize(
    ("queried", "code"),
    [
        ({"status": "PENDING"}, "PAYMENT_PENDING"),
        ({"status": "REVERSED"}, REVERSED_BY_CLIENT),
        ({"status": "FAILED", "code": "RISK_DECLINED"}, "RISK_DECLINED"),
        ({"status": "FAILED"}, BAD_RESPONSE),
        ({"status": "SUCCEEDED"}, None),
    ],
)
def test_a_queried_status_reads_as_the_code_a_payment_call_would_answer(
    queried: dict[str, Any], code: str | None
) -> None:
    transport = ScriptedTransport(ok(payment_id="pay_5", **queried))
    gateway, _ = client(transport)
    p = payment(payment_id="pay_5")
    assert gateway.query(p).code == code
    assert p.codes == ([] if code is None else [code])


def test_a_refund_is_replayed_under_its_own_key_and_never_reversed() -> None:
    transport = ScriptedTransport(then=timeout())
    gateway, clock = client(transport, RESOLVING)
    line = payment(key="r-1", kind=REFUND, payment_id="pay_6")
    first = gateway.refund(line, BODY)
    assert gateway.resolve_refund(line, BODY, first) == CLIENT_TIMEOUT
    assert len(transport.sent) > 2
    assert {r.path for r in transport.sent} == {"/v1/payments/pay_6/refunds"}
    assert transport.routes[0] == "POST /v1/payments/[id]/refunds"
    assert set(transport.routes[1:]) == {"POST /v1/payments/[id]/refunds (replay)"}
    assert _keys(transport) == {"r-1"}
    assert sum(clock.sleeps) == pytest.approx(RESOLVING.resolve_deadline_s)
    assert line.payment_id == "pay_6" and line.attempts == len(transport.sent)


def test_the_checkout_page_shows_the_credit_this_basket_may_spend() -> None:
    page: dict[str, Any] = {"available_credit": 90_000, "txn_limit": 50_000}
    transport = ScriptedTransport(
        ok(status="ACTIVE", **page), ok(status="FROZEN", **page), error("SYSTEM_BUSY")
    )
    gateway, _ = client(transport)
    active, frozen, failed = payment(), payment(), payment()
    gateway.account(active)
    gateway.account(frozen, name="/v1/accounts/[user_id] (payment code)")
    gateway.account(failed)
    assert (active.credit_shown, frozen.credit_shown, failed.credit_shown) == (50_000, 0, None)
    assert transport.sent[0].path == "/v1/accounts/u000001"
    assert [r.name for r in transport.sent] == [
        "/v1/accounts/[user_id]",
        "/v1/accounts/[user_id] (payment code)",
        "/v1/accounts/[user_id]",
    ]
    assert active.attempts == 0 and active.codes == []  # the page is no attempt at paying


def test_each_person_has_their_link_and_deadline() -> None:
    plain, weak = ScriptedTransport(then=ok()), ScriptedTransport(then=ok())
    gateway, _ = client(plain, ClientPolicy(timeout_s=5.0), weak_transport=weak)
    gateway.exchange("GET", "/healthz", "/healthz")
    gateway.person(weak=True)
    gateway.exchange("GET", "/healthz", "/healthz")
    gateway.person(weak=False, deadline_s=POS_DEADLINE_S)
    gateway.exchange("GET", "/healthz", "/healthz")
    gateway.person(weak=False)
    gateway.exchange("GET", "/healthz", "/healthz")
    assert [r.deadline_s for r in plain.sent] == [5.0, POS_DEADLINE_S, 5.0]
    assert [r.deadline_s for r in weak.sent] == [min(5.0, WEAK_TIMEOUT_S)]
    # The app's own timeout, when shorter, holds on a weak link too.
    gateway, _ = client(plain, ClientPolicy(timeout_s=1.5), weak_transport=weak)
    gateway.person(weak=True)
    assert gateway.deadline_s == 1.5
    with pytest.raises(ValueError, match="weak"):
        client(plain)[0].person(weak=True)


def _stop_after(clock: FakeClock, seconds: float) -> Callable[[], bool]:
    end = clock.now + seconds
    return lambda: clock.now >= end


def test_a_pending_reversal_replays_until_it_learns_the_id_then_reverses_the_capture() -> None:
    """Still unknown when the person left: the terminal asks again under the key through a
    long outage, and once the stored success names the payment it reverses it."""
    transport = ScriptedTransport(
        timeout(),
        error("SYSTEM_BUSY", retry_after="1"),
        error("IDEMPOTENCY_IN_PROGRESS"),
        ok(payment_id="pay_9", status="SUCCEEDED"),
        ok(payment_id="pay_9", status="REVERSED"),
    )
    gateway, clock = client(transport, RESOLVING)
    p = payment()
    assert gateway.reverse_pending(p, BODY, _stop_after(clock, 60)) is True
    assert transport.routes == [
        "POST /v1/payments (replay)",
        "POST /v1/payments (replay)",
        "POST /v1/payments (replay)",
        "POST /v1/payments (replay)",
        "POST /v1/payments/[id]/reverse",
    ]
    assert transport.sent[-1].path == "/v1/payments/pay_9/reverse"
    assert _keys(transport) == {p.key, None}
    assert min(clock.sleeps[1:2]) >= 1.0  # Retry-After honoured


def test_a_pending_reversal_ends_when_nothing_was_taken() -> None:
    declined = ScriptedTransport(error("RISK_DECLINED"))  # refused before it had an id
    gateway, clock = client(declined, RESOLVING)
    assert gateway.reverse_pending(payment(), BODY, _stop_after(clock, 60)) is True
    assert declined.routes == ["POST /v1/payments (replay)"]
    failed = ScriptedTransport(ok(payment_id="pay_9", status="FAILED"))  # reversing changes nothing
    gateway, clock = client(failed, RESOLVING)
    assert gateway.reverse_pending(payment(payment_id="pay_9"), BODY, _stop_after(clock, 60))
    assert failed.routes == ["POST /v1/payments/[id]/reverse"]


def test_a_pending_reversal_retries_the_reversal_and_stops_with_the_run() -> None:
    transport = ScriptedTransport(then=timeout())
    gateway, clock = client(transport, RESOLVING)
    p = payment(payment_id="pay_9")
    assert gateway.reverse_pending(p, BODY, _stop_after(clock, 30)) is False
    assert set(transport.routes) == {"POST /v1/payments/[id]/reverse"}
    assert clock.now >= 130 and max(clock.sleeps) <= PENDING_CAP_S

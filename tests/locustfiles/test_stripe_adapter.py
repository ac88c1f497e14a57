"""The Stripe-shaped client adapter against localstripe (a stateful fake Stripe server, not
written here), directly and through the fault proxy: each step of the checkout flow in
paystorm's terms, declines from Stripe's declined test card, what the proxy injects, and the
API's own list of what it captured for the cross-check."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import orjson
import pytest

from contract import routes
from contract.admin import AdminClient
from locustfiles.client.adapter import AdapterError, load
from locustfiles.client.adapters.stripe_intents import (
    CARD,
    DECLINED_CARD,
    StripePaymentIntents,
    card_for,
)
from locustfiles.client.transport import Request
from tests.fault_proxy.servers import TOKEN, HttpTransport, localstripe, proxy

ADAPTER = "locustfiles.client.adapters.stripe_intents:StripePaymentIntents"
_keys = itertools.count()


@pytest.fixture(scope="module")
def stripe() -> Iterator[str]:
    with localstripe() as url:
        yield url


def user_with(card: str) -> str:
    return next(u for u in (f"u{i:06d}" for i in range(1, 10_000)) if card_for(u) == card)


def pay(user_id: str, amount: int = 1_000) -> Request:
    body = orjson.dumps({"user_id": user_id, "merchant_id": "m00001", "amount": amount})
    key = f"test-{next(_keys)}"
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    return Request("POST", routes.PAY.path, routes.PAY.stats_name, body, headers, 5.0)


def step(route: routes.Route, body: bytes = b"", key: str = "", **params: str) -> Request:
    headers = {"Idempotency-Key": key} if key else {}
    return Request(route.method, route.url("", **params), route.stats_name, body, headers, 5.0)


def test_the_checkout_flow_in_paystorms_terms(stripe: str) -> None:
    adapter, link = StripePaymentIntents(), HttpTransport(stripe)
    good = user_with(CARD)
    page = adapter.exchange(link, step(routes.ACCOUNT, user_id=good))
    assert page.code is None and page.body == {"user_id": good, "status": "ACTIVE"}
    paid = adapter.exchange(link, request := pay(good))
    assert paid.code is None and paid.failure_text is None
    assert paid.body is not None and paid.body["status"] == "SUCCEEDED"
    payment_id = str(paid.body["payment_id"])
    assert payment_id.startswith("pi_")
    queried = adapter.exchange(link, step(routes.QUERY, payment_id=payment_id))
    assert queried.code is None and queried.body is not None
    assert queried.body["status"] == "SUCCEEDED"
    refund_body = orjson.dumps({"amount": 300})
    refunded = adapter.exchange(
        link, step(routes.REFUND, refund_body, key="r-1", payment_id=payment_id)
    )
    assert refunded.code is None
    reversed_ = adapter.exchange(link, step(routes.REVERSE, payment_id=payment_id))
    assert reversed_.code is None and reversed_.body is not None
    assert reversed_.body["status"] == "REVERSED"  # captured: the rest refunded
    key = request.headers["Idempotency-Key"]
    (line,) = [row for row in adapter.captured(stripe, key) if row.key == key]
    assert (line.payment_id, line.status, line.refunded) == (payment_id, "REFUNDED", 1_000)


def test_a_declined_card_is_a_decline_and_the_api_says_so_too(stripe: str) -> None:
    adapter, link = StripePaymentIntents(), HttpTransport(stripe)
    request = pay(user_with(DECLINED_CARD))
    declined = adapter.exchange(link, request)
    assert declined.status == 402 and declined.code == "INSUFFICIENT_CREDIT"
    assert declined.failure_text is None  # a decline is the API doing its job
    key = request.headers["Idempotency-Key"]
    (line,) = adapter.captured(stripe, key)
    assert (line.status, line.code) == ("FAILED", "INSUFFICIENT_CREDIT")


def test_through_the_proxy_its_faults_read_as_paystorms_codes(stripe: str) -> None:
    adapter = StripePaymentIntents()
    with proxy(stripe) as through:
        admin, link = AdminClient(through, TOKEN), HttpTransport(through)
        good = user_with(CARD)
        fault = admin.add_fault({"kind": "error", "params": {"code": "SYSTEM_BUSY"}})
        busy = adapter.exchange(link, pay(good))
        assert busy.code == "SYSTEM_BUSY" and busy.retry_after_s == 1.0
        admin.clear_faults(fault["id"])
        admin.add_fault({"kind": "lost_response", "target": {"path": "/v1/payment_intents"}})
        lost = adapter.exchange(link, request := pay(good))
        assert lost.code == "CONNECTION_ERROR"
        assert [e["kind"] for e in admin.events()] == ["error", "lost_response"]
    # Stripe took it before the answer was cut: a ghost charge the cross-check can see.
    key = request.headers["Idempotency-Key"]
    (line,) = adapter.captured(stripe, key)
    assert line.status == "SUCCEEDED"


def test_a_bad_adapter_name_is_one_line() -> None:
    assert isinstance(load(ADAPTER), StripePaymentIntents)
    for name, said in (
        ("no.such.module:Name", "cannot import no.such.module"),
        ("locustfiles.client.adapters.stripe_intents:Nope", "expected a subclass"),
        ("locustfiles.client.adapters.stripe_intents:card_for", "expected a subclass"),
    ):
        with pytest.raises(AdapterError) as refused:
            load(name)
        assert str(refused.value).startswith(f"client.adapter {name}: ")
        assert said in str(refused.value) and "\n" not in str(refused.value)

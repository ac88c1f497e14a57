"""The mock gateway's client: its contract (account, pay, query, reverse, refund) and the
policy of the scenario's app around it — retries under the same idempotency key, and resolving
an uncertain result before the person is told anything.

Sleep, the monotonic clock and the random stream are the caller's: gevent's sleep and the
user's seeded stream under Locust, fakes in tests. The draws from the stream come in a fixed
order (back-off, replay wait, and the weak link's below this client), so a seeded person and
their back-offs are the same run after run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from contract import routes
from contract.codes import BAD_RESPONSE, REVERSED_BY_CLIENT, UNCERTAIN
from contract.reconcile import CHARGED
from locustfiles.client.adapter import MOCK, Adapter
from locustfiles.client.classify import Exchange
from locustfiles.client.transport import Request, Transport
from locustfiles.client.weak import person_deadline_s
from locustfiles.outcomes import Payment
from locustfiles.policy import backoff_s, replay_wait_s, retry_delay_s, retryable, should_retry
from scenarios.model import ClientPolicy

JSON_HEADERS: Mapping[str, str] = {"Content-Type": "application/json", "Accept": "application/json"}
ACCOUNT_NAME = routes.ACCOUNT.stats_name
REPLAY = " (replay)"  # a replay is its own row in Locust's stats
PENDING_CAP_S = 2.0
"""The longest wait between two tries of a pending reversal: the money is back sooner."""

# A payment's status, read as the code a payment call would have answered.
_QUERIED = {"PENDING": "PAYMENT_PENDING", "REVERSED": REVERSED_BY_CLIENT}


class GatewayClient:
    """One person's app (or the shop's terminal) talking to the mock gateway."""

    def __init__(
        self,
        transport: Transport,
        policy: ClientPolicy,
        rng: random.Random,
        *,
        sleep: Callable[[float], object],
        clock: Callable[[], float] = time.monotonic,
        weak_transport: Transport | None = None,
        attempted: Callable[[Payment], object] = lambda payment: None,
        adapter: Adapter = MOCK,
    ) -> None:
        self._transport = transport
        self._weak_transport = weak_transport
        self.policy = policy
        self._rng = rng
        self._sleep = sleep
        self._clock = clock
        self._attempted = attempted  # the recorder counts every attempt at a payment
        self._adapter = adapter  # the API actually spoken: the mock's own by default
        self.weak = False
        """The person now served is on a weak mobile link."""
        self.deadline_s = policy.timeout_s
        """The person's deadline per request."""

    def person(self, *, weak: bool, deadline_s: float | None = None) -> None:
        """The next person (or, for a POS scan, the terminal taking over): their link, and a
        deadline shorter than the app's if they have one."""
        if weak and self._weak_transport is None:
            raise ValueError("a person on a weak link needs the client's weak transport")
        self.weak = weak
        self.deadline_s = person_deadline_s(self.policy.timeout_s, weak=self.weak, own_s=deadline_s)

    def exchange(
        self, method: str, path: str, name: str, body: bytes = b"", key: str | None = None
    ) -> Exchange:
        """One request as this person makes it: over their link, within their deadline."""
        headers = JSON_HEADERS if key is None else {**JSON_HEADERS, "Idempotency-Key": key}
        request = Request(method, path, name, body, headers, self.deadline_s)
        link = self._weak_transport if self.weak else self._transport
        assert link is not None
        return self._adapter.exchange(link, request)

    def account(self, payment: Payment, name: str = ACCOUNT_NAME) -> Exchange:
        """The page that shows the person their available credit before they pay."""
        page = self.exchange("GET", routes.ACCOUNT.url("", user_id=payment.user_id), name)
        if page.code is None and page.body is not None:
            shown = page.body.get("available_credit")
            limit = page.body.get("txn_limit")
            active = page.body.get("status") == "ACTIVE"
            if isinstance(shown, int) and isinstance(limit, int):
                # What the page lets this basket spend: nothing when frozen, capped per payment.
                payment.credit_shown = min(shown, limit) if active else 0
        return page

    def pay(self, payment: Payment, body: bytes) -> Exchange:
        """POST the payment with the scenario's retry policy, always under its key."""
        return self._post(payment, body, routes.PAY.path)

    def refund(self, line: Payment, body: bytes) -> Exchange:
        """POST a refund of `line.payment_id` under the refund's own key, retried alike."""
        return self._post(line, body, _refunds_path(line))

    def query(self, payment: Payment) -> Exchange:
        """GET the payment; its status read as the code a payment call would have answered."""
        path = routes.QUERY.url("", payment_id=str(payment.payment_id))
        ex = self.exchange("GET", path, routes.QUERY.stats_name)
        if ex.code is None and ex.body is not None:
            body = ex.body
            status = body.get("status")
            if status in _QUERIED:  # REVERSED: only a client reverses a payment
                ex = replace(ex, code=_QUERIED[status])
            elif status == "FAILED":
                # A failed payment carries its code; one without is not the contract.
                ex = replace(ex, code=str(body.get("code") or BAD_RESPONSE))
        if ex.code is not None:
            payment.codes.append(ex.code)
        return ex

    def reverse(self, payment: Payment) -> Exchange:
        path = routes.REVERSE.url("", payment_id=str(payment.payment_id))
        return self.exchange("POST", path, routes.REVERSE.stats_name)

    def resolve(
        self, payment: Payment, body: bytes, ex: Exchange, *, query: bool = False
    ) -> str | None:
        """What WeChat Pay and Alipay tell merchants to do with an uncertain result: replay
        the same key (or, with `query`, look the payment up once its id is known) until the
        gateway knows, and if it still does not know by the deadline, reverse the payment.
        Returns the final code (None: succeeded)."""
        uncertain = _first_uncertain(payment, ex)
        ex = self._until_known(payment, body, routes.PAY.path, ex, query=query)
        if _settled(ex.code):
            return ex.code
        if payment.payment_id is None:
            return uncertain  # nothing to reverse: the outcome stays unknown
        reversal = self.reverse(payment)
        if reversal.code is None and reversal.body is not None:
            status = reversal.body.get("status")
            if status == "REVERSED":
                payment.codes.append(REVERSED_BY_CLIENT)
                return REVERSED_BY_CLIENT
            if status in ("SUCCEEDED", "PARTIALLY_REFUNDED"):
                return None  # it had settled as captured just now
        return ex.code if ex.code in UNCERTAIN else uncertain  # still unknown, whatever it said

    def reverse_pending(self, payment: Payment, body: bytes, stop: Callable[[], bool]) -> bool:
        """A pending reversal (冲正), once the person has left with the payment still unknown:
        what a POS terminal or a merchant's order service does in the background. Replay its
        key until an answer names the payment, then reverse it (a reversal of one that failed
        or was already reversed changes nothing), until `stop()`. True: the money is known not
        to be taken."""
        tries = 0
        while not stop():
            retry_after_s = None
            if payment.payment_id is None:
                ex = self._send(payment, body, routes.PAY.path, replay=True)
                if payment.payment_id is None and _settled(ex.code):
                    return True  # refused without a payment: nothing was taken
                retry_after_s = ex.retry_after_s
            if payment.payment_id is not None:
                reversal = self.reverse(payment)
                status = None if reversal.body is None else reversal.body.get("status")
                if reversal.code is None and status is not None:
                    return status not in CHARGED  # reversed now, or it had failed
                if _settled(reversal.code):
                    return False  # refused for good: the payment cannot be reversed
                retry_after_s = reversal.retry_after_s
            tries += 1
            self._sleep(backoff_s(self._rng, tries, retry_after_s, cap_s=PENDING_CAP_S))
        return False

    def resolve_refund(self, line: Payment, body: bytes, ex: Exchange) -> str | None:
        """Replay an uncertain refund under its key until the deadline; a refund cannot be
        reversed, so one still unknown then stays unknown."""
        uncertain = _first_uncertain(line, ex)
        code = self._until_known(line, body, _refunds_path(line), ex).code
        return code if _settled(code) else uncertain

    def needs_resolving(self, payment: Payment, ex: Exchange) -> bool:
        """Whether an attempt left the payment uncertain and no later answer settled it: a
        retry after a timed-out attempt that was refused as busy says nothing of the first."""
        return not _settled(ex.code) and any(code in UNCERTAIN for code in payment.codes)

    def _post(self, payment: Payment, body: bytes, path: str) -> Exchange:
        policy = self.policy
        retries = 0
        while True:
            ex = self._send(payment, body, path)
            if not should_retry(policy, ex.code, retries):
                return ex
            retries += 1
            delay_s = retry_delay_s(policy, self._rng, retries, ex.retry_after_s)
            if delay_s > 0:
                self._sleep(delay_s)

    def _send(self, payment: Payment, body: bytes, path: str, replay: bool = False) -> Exchange:
        self._attempted(payment)
        route = routes.PAY if path == routes.PAY.path else routes.REFUND
        name = route.stats_name + (REPLAY if replay else "")
        ex = self.exchange("POST", path, name, body, key=payment.key)
        if ex.code is not None:
            payment.codes.append(ex.code)
        if ex.body is not None and payment.payment_id is None:
            payment.payment_id = _payment_id(ex.body)
        return ex

    def _until_known(
        self, payment: Payment, body: bytes, path: str, ex: Exchange, *, query: bool = False
    ) -> Exchange:
        clock = self._clock
        deadline = clock() + self.policy.resolve_deadline_s
        tries = 0
        while not _settled(ex.code) and clock() < deadline:
            tries += 1
            self._sleep(replay_wait_s(self._rng, tries, ex.retry_after_s, deadline - clock()))
            if query and payment.payment_id is not None:
                ex = self.query(payment)
            else:
                ex = self._send(payment, body, path, replay=True)
        return ex


def _first_uncertain(payment: Payment, ex: Exchange) -> str | None:
    """The code that made the payment uncertain: the one its line keeps if it stays so."""
    return next((code for code in payment.codes if code in UNCERTAIN), ex.code)


def _settled(code: str | None) -> bool:
    """Whether an answer to a replay or a query says what became of the payment. An
    uncertain one does not, nor does a refusal worth retrying: IDEMPOTENCY_IN_PROGRESS (the
    client's own timed-out attempt still holds the key), or SYSTEM_BUSY, RATE_LIMITED and
    the like, which the gateway answers before it looks the key up."""
    return code not in UNCERTAIN and not retryable(code)


def _refunds_path(line: Payment) -> str:
    return routes.REFUND.url("", payment_id=str(line.payment_id))


def _payment_id(body: dict[str, Any]) -> str | None:
    if "payment_id" in body:
        return str(body["payment_id"])
    error = body.get("error")
    if isinstance(error, dict) and "payment_id" in error:
        return str(error["payment_id"])
    return None

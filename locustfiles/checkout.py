"""The shared part of every paystorm user: one HTTP exchange, classified by its code, and the
retry policy of the scenario's client. User classes only say what a person does."""

from __future__ import annotations

import random
import time
from typing import Any

import gevent
import orjson
from locust import FastHttpUser
from locust.contrib.fasthttp import FastHttpSession, ResponseContextManager

from locustfiles.context import RunContext, context_of
from locustfiles.network import WEAK_DROP_SHARE, WEAK_TIMEOUT_S, send_and_drop, weak_rtt_s
from locustfiles.outcomes import (
    BAD_RESPONSE,
    CLIENT_TIMEOUT,
    CONNECTION_ERROR,
    REVERSED_BY_CLIENT,
    UNCERTAIN,
    Payment,
    outcome_of,
)
from locustfiles.policy import replay_wait_s, retry_delay_s, should_retry
from locustfiles.policy import retryable as retryable_code
from locustfiles.schedule import Ticket
from mock_gateway.errors import CATALOGUE

JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class Exchange:
    """One request's result as the client understood it."""

    __slots__ = ("body", "code", "retry_after_s", "status")

    def __init__(
        self,
        status: int,
        code: str | None,
        body: dict[str, Any] | None,
        retry_after_s: float | None,
    ) -> None:
        self.status = status
        self.code = code
        self.body = body
        self.retry_after_s = retry_after_s

    @property
    def retryable(self) -> bool:
        return retryable_code(self.code)


def _timed_out(error: BaseException | None, elapsed_ms: float, timeout_s: float) -> bool:
    """geventhttpclient wraps a read timeout in RetriesExceeded and drops the original: a
    request that failed after (nearly) the whole timeout is taken to have timed out."""
    while error is not None:
        if isinstance(error, TimeoutError | gevent.Timeout):
            return True
        error = error.__cause__ or error.__context__
    return elapsed_ms >= 0.95 * timeout_s * 1000


def classify(resp: ResponseContextManager, timeout_s: float = 0.0) -> Exchange:
    """Read a response; mark it in Locust's stats (a legitimate decline is not a failure)."""
    if resp.status_code == 0:  # no HTTP response at all
        error = getattr(resp, "error", None) or resp.request_meta.get("exception")
        elapsed_ms = float(resp.request_meta.get("response_time") or 0.0)
        timed_out = timeout_s > 0 and _timed_out(error, elapsed_ms, timeout_s)
        client_code = CLIENT_TIMEOUT if timed_out else CONNECTION_ERROR
        resp.failure(f"{client_code}: {type(error).__name__}")
        return Exchange(0, client_code, None, None)
    try:
        body = orjson.loads(resp.content or b"")
        if not isinstance(body, dict):
            raise ValueError("not an object")
        problem = body.get("error")
        code = None if problem is None else str(problem["code"])
    except (ValueError, KeyError, TypeError):
        snippet = (resp.content or b"")[:80].decode("utf-8", "replace")
        resp.failure(f"{BAD_RESPONSE}: HTTP {resp.status_code} {snippet!r}")
        return Exchange(resp.status_code, BAD_RESPONSE, None, None)
    if code is not None and code not in CATALOGUE:
        resp.failure(f"{BAD_RESPONSE}: unknown code {code!r}")
        return Exchange(resp.status_code, BAD_RESPONSE, body, None)
    if resp.status_code >= 400 and code is None:
        resp.failure(f"{BAD_RESPONSE}: HTTP {resp.status_code} without an error body")
        return Exchange(resp.status_code, BAD_RESPONSE, body, None)
    if code is None or outcome_of(code) == "declined":
        resp.success()
    else:
        resp.failure(code)
    return Exchange(resp.status_code, code, body, _retry_after_s(resp))


def _retry_after_s(resp: ResponseContextManager) -> float | None:
    value = resp.headers.get("Retry-After") if resp.headers else None
    try:
        return float(str(value)) if value else None
    except ValueError:
        return None  # an HTTP-date: the back-off alone decides


class PaystormUser(FastHttpUser):
    """Base of the paystorm users: holds the run context and a reproducible random stream.

    A Locust user is a slot that serves one person after another; `person()` sets the link
    and the deadline of the one being served now."""

    abstract = True
    ctx: RunContext
    rng: random.Random
    ticket: Ticket | None = None  # open model: the arrival this user was given, not yet begun
    serving: bool = False  # open model: busy with an arrival since its last wait
    weak: bool = False  # the person now served is on a weak mobile link
    timeout_s: float = 5.0  # the person's deadline per request

    def on_start(self) -> None:
        self.ctx = context_of(self.environment)
        self.rng = self.ctx.user_rng()
        self._sessions: dict[float, FastHttpSession] = {self.network_timeout: self.client}

    def person(self, *, weak: bool, deadline_s: float | None = None) -> None:
        """The next person: their link, and a deadline shorter than the app's if they have one
        (a weak link, a POS terminal)."""
        self.weak = weak
        timeout = self.ctx.scenario.client.timeout_s
        if weak:
            timeout = min(timeout, WEAK_TIMEOUT_S)
        if deadline_s is not None:
            timeout = min(timeout, deadline_s)
        self.timeout_s = timeout

    def _session(self) -> FastHttpSession:
        """A client whose timeouts are the person's deadline (one per deadline, kept)."""
        session = self._sessions.get(self.timeout_s)
        if session is None:
            session = self._sessions[self.timeout_s] = FastHttpSession(
                base_url=self.host,
                request_event=self.environment.events.request,
                network_timeout=self.timeout_s,
                connection_timeout=self.timeout_s,
                max_retries=self.max_retries,
                insecure=self.insecure,
                concurrency=self.concurrency,
                user=self,
                client_pool=self.client_pool,
                ssl_context_factory=self.ssl_context_factory,
                headers=self.default_headers,
            )
        return session

    def exchange(
        self, method: str, path: str, name: str, body: bytes | None = None, key: str | None = None
    ) -> Exchange:
        """One request as this person makes it: over their link, within their deadline."""
        headers = JSON_HEADERS if key is None else {**JSON_HEADERS, "Idempotency-Key": key}
        if self.weak:
            gevent.sleep(weak_rtt_s(self.rng))  # the slow link, before any answer can arrive
            if self.rng.random() < WEAK_DROP_SHARE and (self.host or "").startswith("http:"):
                return self._dropped(method, path, name, headers, body or b"")
        with self._session().request(
            method,
            path,
            name=name,
            data=body,  # type: ignore[arg-type]  # bytes go out as they are
            headers=headers,
            catch_response=True,
        ) as resp:
            return classify(resp, self.timeout_s)

    def _dropped(
        self, method: str, path: str, name: str, headers: dict[str, str], body: bytes
    ) -> Exchange:
        error: Exception = ConnectionResetError("weak network: connection dropped")
        began = time.perf_counter()
        try:
            send_and_drop(self.host or "", method, path, headers, body, self.timeout_s)
        except OSError as exc:
            error = exc
        self.environment.events.request.fire(
            request_type=method,
            name=name,
            response_time=(time.perf_counter() - began) * 1000,
            response_length=0,
            response=None,
            context={},
            exception=error,
        )
        return Exchange(0, CONNECTION_ERROR, None, None)

    def on_stop(self) -> None:
        # Stopped between taking an arrival and beginning it: offered, so counted.
        if self.ticket is not None and self.ctx.arrivals is not None:
            self.ctx.arrivals.drop(self.ticket)
            self.ticket = None

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
        return ticket.due_s, max(0.0, now_s - ticket.due_s) * 1000

    def get_json(self, path: str, name: str) -> Exchange:
        return self.exchange("GET", path, name)

    def show_credit(self, payment: Payment, name: str = "/v1/accounts/[user_id]") -> None:
        """The page that shows the person their available credit before they pay."""
        page = self.get_json(f"/v1/accounts/{payment.user_id}", name=name)
        if page.code is None and page.body is not None:
            shown = page.body.get("available_credit")
            limit = page.body.get("txn_limit")
            active = page.body.get("status") == "ACTIVE"
            if isinstance(shown, int) and isinstance(limit, int):
                # What the page lets this basket spend: nothing when frozen, capped per payment.
                payment.credit_shown = min(shown, limit) if active else 0

    def post_payment(self, payment: Payment, body: bytes, path: str = "/v1/payments") -> Exchange:
        """POST a payment (or a refund, at `path`) with the scenario's retry policy, always
        under the same key."""
        policy = self.ctx.scenario.client
        retries = 0
        while True:
            ex = self._send(payment, body, path)
            if not should_retry(policy, ex.code, retries):
                return ex
            retries += 1
            delay_s = retry_delay_s(policy, self.rng, retries, ex.retry_after_s)
            if delay_s > 0:
                gevent.sleep(delay_s)

    def _send(self, payment: Payment, body: bytes, path: str, replay: bool = False) -> Exchange:
        self.ctx.recorder.attempted(payment)
        name = _stat_name(path) + (" (replay)" if replay else "")
        ex = self.exchange("POST", path, name, body, key=payment.key)
        if ex.code is not None:
            payment.codes.append(ex.code)
        if ex.body is not None and payment.payment_id is None:
            payment.payment_id = _payment_id(ex.body)
        return ex

    def resolve(
        self, payment: Payment, body: bytes, ex: Exchange, *, query: bool = False
    ) -> str | None:
        """What WeChat Pay and Alipay tell merchants to do with an uncertain result: replay
        the same key (or, with `query`, look the payment up once its id is known) until the
        gateway knows, and if it still does not know by the deadline, reverse the payment.
        Returns the final code (None: succeeded)."""
        ex = self._until_known(payment, body, "/v1/payments", ex, query=query)
        if ex.code not in UNCERTAIN:
            return ex.code
        if payment.payment_id is None:
            return ex.code  # nothing to reverse: the outcome stays unknown
        reversal = self.exchange(
            "POST", f"/v1/payments/{payment.payment_id}/reverse", "/v1/payments/[id]/reverse"
        )
        if reversal.code is None and reversal.body is not None:
            status = reversal.body.get("status")
            if status == "REVERSED":
                payment.codes.append(REVERSED_BY_CLIENT)
                return REVERSED_BY_CLIENT
            if status in ("SUCCEEDED", "PARTIALLY_REFUNDED"):
                return None  # it had settled as captured just now
        return ex.code

    def resolve_refund(self, line: Payment, body: bytes, path: str, ex: Exchange) -> str | None:
        """Replay an uncertain refund under its key until the deadline; a refund cannot be
        reversed, so one still unknown then stays unknown."""
        return self._until_known(line, body, path, ex).code

    def _until_known(
        self, payment: Payment, body: bytes, path: str, ex: Exchange, *, query: bool = False
    ) -> Exchange:
        deadline = time.monotonic() + self.ctx.scenario.client.resolve_deadline_s
        tries = 0
        while ex.code in UNCERTAIN and time.monotonic() < deadline:
            tries += 1
            gevent.sleep(
                replay_wait_s(self.rng, tries, ex.retry_after_s, deadline - time.monotonic())
            )
            if query and payment.payment_id is not None:
                ex = self._query(payment)
            else:
                ex = self._send(payment, body, path, replay=True)
        return ex

    def _query(self, payment: Payment) -> Exchange:
        """GET the payment; its status read as the code a payment call would have answered."""
        ex = self.exchange("GET", f"/v1/payments/{payment.payment_id}", "/v1/payments/[id]")
        if ex.code is None and ex.body is not None:
            status = ex.body.get("status")
            if status == "PENDING":
                ex.code = "PAYMENT_PENDING"
            elif status == "REVERSED":
                ex.code = REVERSED_BY_CLIENT  # only a client reverses a payment
            elif status == "FAILED":
                # A failed payment carries its code; one without is not the contract.
                ex.code = str(ex.body.get("code") or BAD_RESPONSE)
        if ex.code is not None:
            payment.codes.append(ex.code)
        return ex

    def finish(self, payment: Payment, code: str | None) -> None:
        payment.code = code
        self.ctx.recorder.finish(payment, time.time() - self.ctx.t0)


def _stat_name(path: str) -> str:
    """Locust's stats group by route, not by payment id."""
    if path.endswith("/refunds"):
        return "/v1/payments/[id]/refunds"
    return path


def _payment_id(body: dict[str, Any]) -> str | None:
    if "payment_id" in body:
        return str(body["payment_id"])
    error = body.get("error")
    if isinstance(error, dict) and "payment_id" in error:
        return str(error["payment_id"])
    return None

"""A Stripe-shaped payment API through the client adapter: PaymentIntents created and
confirmed in one call under the payment's Idempotency-Key, retrieved, cancelled or refunded.

    client: {adapter: locustfiles.client.adapters.stripe_intents:StripePaymentIntents}

The checkout flow, step by step: the page before paying retrieves the person's card (Stripe
shows no credit line, so none is shown and a payment's own answer says whether it could pay);
pay is `POST /v1/payment_intents` with `confirm=true` and the key in the payment's metadata;
query retrieves it; a reversal cancels it, or refunds it whole once captured; a refund is
`POST /v1/refunds`. A card decline (402) reads as INSUFFICIENT_CREDIT, a decline like the
mock's; answers the fault proxy makes itself carry the catalogue's codes and are read as such.

Who pays with a declined card is fixed by the person: a `DECLINED_SHARE` of the people, drawn
from their user id, pays with Stripe's test card that is declined on charge.

The API key comes from $PAYSTORM_STRIPE_KEY (a test key by default, which localstripe takes);
it is sent in the Authorization header only, never logged or written.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

from contract import routes
from contract.codes import BAD_RESPONSE, CATALOGUE, outcome_of
from contract.lines import LedgerLine
from locustfiles.client.adapter import Adapter
from locustfiles.client.classify import Exchange, classify, retry_after_s
from locustfiles.client.transport import Answer, Request, Transport

KEY_ENV = "PAYSTORM_STRIPE_KEY"
TEST_KEY = "sk_test_paystorm"
KEY_FIELD = "paystorm_key"
"""The metadata field a PaymentIntent carries its paystorm idempotency key in."""
CARD = "pm_card_visa"
DECLINED_CARD = "pm_card_chargeCustomerFail"  # declined when charged (402 card_declined)
DECLINED_SHARE = 0.05
PAGE = 100

# A PaymentIntent's status as the mock gateway's payment status.
STATUS = {
    "succeeded": "SUCCEEDED",
    "canceled": "REVERSED",
    "requires_payment_method": "FAILED",  # its last attempt was declined
    "processing": "PENDING",
    "requires_action": "PENDING",
    "requires_confirmation": "PENDING",
    "requires_capture": "PENDING",
}
# Stripe's declines of a card: the account could not pay, as the mock's declines say.
DECLINES = frozenset(
    {"card_declined", "insufficient_funds", "expired_card", "incorrect_cvc", "incorrect_number"}
)
# Stripe's other errors by HTTP status, as the catalogue's codes.
BY_STATUS = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    403: "UNAUTHORIZED",
    404: "NOT_FOUND",
    409: "IDEMPOTENCY_IN_PROGRESS",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "SYSTEM_BUSY",
    503: "SYSTEM_BUSY",
    504: "SYSTEM_BUSY",
}


def card_for(user_id: str) -> str:
    """The person's card: the declined test card for a fixed share of people."""
    digest = hashlib.blake2b(user_id.encode(), digest_size=8).digest()
    return DECLINED_CARD if int.from_bytes(digest, "big") / 2**64 < DECLINED_SHARE else CARD


class StripePaymentIntents(Adapter):
    """The mock's checkout flow said to a Stripe-shaped API (see the module's docstring)."""

    def __init__(self) -> None:
        key = os.environ.get(KEY_ENV) or TEST_KEY
        self._auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()

    # -- the checkout flow -------------------------------------------------------------------

    def exchange(self, link: Transport, request: Request) -> Exchange:
        route, params = routes.match(request.method, request.path)
        if route is routes.ACCOUNT:
            return self._account(link, request, params["user_id"])
        if route is routes.PAY:
            return self._pay(link, request)
        if route is routes.QUERY:
            return self._query(link, request, params["payment_id"])
        if route is routes.REVERSE:
            return self._reverse(link, request, params["payment_id"])
        if route is routes.REFUND:
            return self._refund(link, request, params["payment_id"])
        return Exchange(0, BAD_RESPONSE, None, None, f"{BAD_RESPONSE}: no step for {request.path}")

    def read(self, answer: Answer) -> Exchange:
        return self._read(answer)[0]

    def _account(self, link: Transport, request: Request, user_id: str) -> Exchange:
        ex, card = self._read(self._send(link, request, "GET", f"/v1/payment_methods/{CARD}"))
        if ex.code is not None or card is None:
            return ex
        return replace(ex, body={"user_id": user_id, "status": "ACTIVE"})

    def _pay(self, link: Transport, request: Request) -> Exchange:
        body = orjson.loads(request.body)
        key = request.headers.get("Idempotency-Key", "")
        form = {
            "amount": body["amount"],
            "currency": str(body.get("currency", "cny")).lower(),
            "payment_method": card_for(str(body["user_id"])),
            "confirm": "true",
            f"metadata[{KEY_FIELD}]": key,
            "metadata[user_id]": body["user_id"],
            "metadata[merchant_id]": body["merchant_id"],
        }
        answer = self._send(link, request, "POST", "/v1/payment_intents", form, key)
        ex, intent = self._read(answer)
        if intent is None:
            return ex
        return self._as_payment(ex, intent)

    def _query(self, link: Transport, request: Request, payment_id: str) -> Exchange:
        ex, intent = self._read(self._send(link, request, "GET", _intent(payment_id)))
        if intent is None:
            return ex
        view = self._as_payment(ex, intent)
        # The query answers the payment as it stands, a failed one included (its code in it).
        return replace(view, code=ex.code, failure_text=ex.failure_text)

    def _reverse(self, link: Transport, request: Request, payment_id: str) -> Exchange:
        """Cancel it; once captured it cannot be, so refund what is left of it instead."""
        ex, intent = self._read(self._send(link, request, "GET", _intent(payment_id)))
        if intent is None:
            return ex
        status = intent.get("status")
        if status == "succeeded":
            ex, refunds = self._read(
                self._send(link, request, "GET", f"/v1/refunds?payment_intent={payment_id}")
            )
            if refunds is None:
                return ex
            back = sum(int(r.get("amount") or 0) for r in refunds.get("data") or ())
            left = int(intent.get("amount") or 0) - back
            if left <= 0:
                return replace(ex, body={"payment_id": payment_id, "status": "REVERSED"})
            form = {"payment_intent": payment_id, "amount": left}
            refund_key = f"reverse-{payment_id}"
            ex, refund = self._read(
                self._send(link, request, "POST", "/v1/refunds", form, refund_key)
            )
            if refund is None:
                return ex
            return replace(ex, body={"payment_id": payment_id, "status": "REVERSED"})
        if status in ("canceled", "requires_payment_method"):
            return replace(ex, body={"payment_id": payment_id, "status": STATUS[status]})
        ex, intent = self._read(self._send(link, request, "POST", _intent(payment_id) + "/cancel"))
        return ex if intent is None else self._as_payment(ex, intent)

    def _refund(self, link: Transport, request: Request, payment_id: str) -> Exchange:
        body = orjson.loads(request.body)
        form = {"payment_intent": payment_id, "amount": body["amount"]}
        key = request.headers.get("Idempotency-Key", "")
        ex, refund = self._read(self._send(link, request, "POST", "/v1/refunds", form, key))
        if refund is None:
            return ex
        return replace(ex, body={"refund_id": refund.get("id"), "payment_id": payment_id})

    # -- speaking Stripe ---------------------------------------------------------------------

    def _send(
        self,
        link: Transport,
        step: Request,
        method: str,
        path: str,
        form: dict[str, Any] | None = None,
        key: str = "",
    ) -> Answer:
        headers = {"Authorization": self._auth, "Accept": "application/json"}
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if key:
            headers["Idempotency-Key"] = key
        body = urlencode(form).encode() if form is not None else b""
        # Named as the step it serves: Locust's stats keep one row per step of the flow.
        return link.send(Request(method, path, step.name, body, headers, step.deadline_s))

    def _read(self, answer: Answer) -> tuple[Exchange, dict[str, Any] | None]:
        """The answer as a code, and the object it carries when it is one of Stripe's."""
        if answer.status == 0:
            return classify(answer), None
        try:
            decoded = orjson.loads(answer.body)
            if not isinstance(decoded, dict):
                raise ValueError("not an object")
        except ValueError:
            return classify(answer), None  # BAD_RESPONSE, as for the mock
        error = decoded.get("error")
        if isinstance(error, dict) and str(error.get("code")) in CATALOGUE:
            return classify(answer), None  # the proxy's own answer (or a catalogue body)
        if answer.status < 400:
            return Exchange(answer.status, None, decoded), decoded
        reason = error if isinstance(error, dict) else {}
        code = _code(answer.status, reason)
        text = None if outcome_of(code) == "declined" else f"{code}: stripe {reason.get('message')}"
        retry = retry_after_s(answer.retry_after)
        return Exchange(answer.status, code, decoded, retry, text), None

    def _as_payment(self, ex: Exchange, intent: dict[str, Any]) -> Exchange:
        """A PaymentIntent as the mock gateway's payment: its id, status and code."""
        status = STATUS.get(str(intent.get("status")), "PENDING")
        body = {
            "payment_id": intent.get("id"),
            "status": status,
            "amount": intent.get("amount"),
            "code": None,
        }
        if status == "SUCCEEDED":
            return replace(ex, code=None, body=body)
        if status == "FAILED":
            problem = intent.get("last_payment_error") or {}
            code = _code(402, problem)
            body["code"] = code
            return replace(ex, code=code, body=body, failure_text=None)
        if status == "PENDING":
            return replace(ex, code="PAYMENT_PENDING", body=body, failure_text="PAYMENT_PENDING")
        return replace(ex, body=body)

    # -- the cross-check ---------------------------------------------------------------------

    def captured(self, base_url: str, key_prefix: str) -> Iterator[LedgerLine]:
        """Every PaymentIntent of the run (its key in the metadata), as a ledger line, its
        refunds summed from the refunds list; paged through, 100 at a time."""
        refunded: dict[str, int] = {}
        for refund in self._list(base_url, "/v1/refunds"):
            if refund.get("status") == "succeeded" and refund.get("payment_intent"):
                paid = str(refund["payment_intent"])
                refunded[paid] = refunded.get(paid, 0) + int(refund.get("amount") or 0)
        for intent in self._list(base_url, "/v1/payment_intents"):
            key = str((intent.get("metadata") or {}).get(KEY_FIELD) or "")
            if not key.startswith(key_prefix):
                continue
            amount = int(intent.get("amount") or 0)
            back = refunded.get(str(intent["id"]), 0)
            status = STATUS.get(str(intent.get("status")), "PENDING")
            if status == "SUCCEEDED" and back:
                status = "REFUNDED" if back >= amount else "PARTIALLY_REFUNDED"
            meta = intent.get("metadata") or {}
            problem = intent.get("last_payment_error") or {}
            yield LedgerLine(
                payment_id=str(intent["id"]),
                key=key,
                status=status,
                amount=amount,
                refunded=back,
                user_id=str(meta.get("user_id", "")),
                merchant_id=str(meta.get("merchant_id", "")),
                channel=None,
                code=_code(402, problem) if status == "FAILED" else None,
            )

    def _list(self, base_url: str, path: str) -> Iterator[dict[str, Any]]:
        parts = urlsplit(base_url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=30)
        after = None
        try:
            while True:
                query = {"limit": PAGE, **({"starting_after": after} if after else {})}
                conn.request(
                    "GET", f"{path}?{urlencode(query)}", headers={"Authorization": self._auth}
                )
                resp = conn.getresponse()
                page = json.loads(resp.read())
                if resp.status != 200:
                    raise OSError(f"GET {path}: HTTP {resp.status}")
                items = page.get("data") or []
                yield from items
                if not page.get("has_more") or not items:
                    return
                after = items[-1]["id"]
        finally:
            conn.close()


def _intent(payment_id: str) -> str:
    return f"/v1/payment_intents/{payment_id}"


def _code(status: int, error: dict[str, Any]) -> str:
    if str(error.get("code")) in DECLINES or str(error.get("decline_code")) in DECLINES:
        return "INSUFFICIENT_CREDIT"
    return BY_STATUS.get(status, "INTERNAL_ERROR" if status >= 500 else BAD_RESPONSE)

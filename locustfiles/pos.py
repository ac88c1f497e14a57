"""A POS scan: the person shows the payment code in the app (which reads their available
credit), the shop's terminal scans it and charges the basket with a short deadline.

A terminal that does not learn the outcome follows the micropay rules of WeChat Pay and
Alipay, whatever the app's policy: it looks the payment up until the deadline, then reverses
it; one it still cannot settle stays with the terminal as a pending reversal after the person
has gone (`locustfiles.reversals`), so nobody is left charged for a payment the till said
failed."""

from __future__ import annotations

import orjson

from contract.codes import UNCERTAIN
from locustfiles.checkout import PaystormUser
from locustfiles.client.gateway import ACCOUNT_NAME
from locustfiles.shoppers import new_payment, settle
from scenarios.people import POS_DEADLINE_S

TERMINAL_VERSION = "pos-3.2.1"


def pos_scan(user: PaystormUser, start: tuple[float, float]) -> None:
    ctx = user.ctx
    payment = new_payment(user, "pos", start)
    ctx.recorder.started(payment)
    user.client.account(payment, name=f"{ACCOUNT_NAME} (payment code)")
    user.client.person(weak=False, deadline_s=POS_DEADLINE_S)  # the terminal is on the shop's line
    body = orjson.dumps(
        {
            "user_id": payment.user_id,
            "merchant_id": payment.merchant_id,
            "amount": payment.amount,
            "currency": "CNY",
            # The shop's own order number: a scan is the merchant's request, not the app's.
            "order_id": f"pos-{payment.key[-16:]}",
            "client": {"app_version": TERMINAL_VERSION, "network": "wifi"},
        }
    )
    result = user.client.pay(payment, body)
    code = result.code
    if user.client.needs_resolving(payment, result):
        code = user.client.resolve(payment, body, result, query=True)
    settle(user, payment, code)
    if code in UNCERTAIN:
        user.leave_pending(payment, body)

"""A refunder: someone who bought earlier in the run returns part of the basket, and the shop
refunds that part of the payment, under a refund key of its own."""

from __future__ import annotations

import uuid

import orjson

from contract.lines import REFUND
from locustfiles.checkout import PaystormUser
from locustfiles.context import Captured
from locustfiles.outcomes import Payment

RETURNED_SHARE = (0.1, 0.9)  # of the basket, uniform: part of it, never all of it


def refund(user: PaystormUser, start: tuple[float, float], bought: Captured) -> None:
    ctx, rng = user.ctx, user.rng
    amount = max(1, min(bought.amount - 1, round(bought.amount * rng.uniform(*RETURNED_SHARE))))
    line = Payment(
        key=ctx.key_prefix + "r" + uuid.UUID(int=rng.getrandbits(128), version=4).hex[1:],
        user_id=bought.user_id,
        merchant_id=bought.merchant_id,
        amount=amount,
        start_s=start[0],
        lateness_ms=start[1],
        kind=REFUND,
        network="weak" if user.client.weak else "normal",
        city=bought.city,
        payment_id=bought.payment_id,
    )
    ctx.recorder.started(line)
    body = orjson.dumps({"amount": amount})
    result = user.client.refund(line, body)
    code = result.code
    if ctx.scenario.client.resolve_uncertain and user.client.needs_resolving(line, result):
        code = user.client.resolve_refund(line, body, result)
    user.finish(line, code)

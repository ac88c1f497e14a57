"""A shopper on a promo day: opens the checkout page (which shows the available credit),
then pays from credit in the app with a fresh idempotency key."""

from __future__ import annotations

import uuid

import orjson

from contract.codes import UNCERTAIN
from contract.population import user_id
from locustfiles.checkout import PaystormUser
from locustfiles.context import APP_VERSIONS, Captured, basket_fen, cities, pick_merchant
from locustfiles.outcomes import Payment


def new_payment(user: PaystormUser, kind: str, start: tuple[float, float]) -> Payment:
    """A person with a basket: who, where, how much — all from the user's seeded stream."""
    ctx, rng = user.ctx, user.rng
    if not ctx.city_names:
        ctx.city_names = cities(ctx.scenario.population.seed)
    return Payment(
        key=ctx.key_prefix + uuid.UUID(int=rng.getrandbits(128), version=4).hex,
        user_id=user_id(rng.randint(1, ctx.accounts)),
        merchant_id=pick_merchant(rng, ctx.merchants),
        amount=basket_fen(rng),
        start_s=start[0],
        lateness_ms=start[1],
        kind=kind,
        network="weak" if user.client.weak else "normal",
        city=rng.choice(ctx.city_names),
    )


def settle(user: PaystormUser, payment: Payment, code: str | None) -> None:
    """Record the person's final belief; a payment they were told succeeded can be refunded."""
    if code is None and payment.payment_id is not None:
        user.ctx.refundable.append(
            Captured(
                payment.payment_id,
                payment.user_id,
                payment.merchant_id,
                payment.amount,
                payment.city,
            )
        )
    user.finish(payment, code)


def checkout(user: PaystormUser, start: tuple[float, float]) -> None:
    ctx = user.ctx
    payment = new_payment(user, "shopper", start)
    ctx.recorder.started(payment)
    user.client.account(payment)
    body = orjson.dumps(
        {
            "user_id": payment.user_id,
            "merchant_id": payment.merchant_id,
            "amount": payment.amount,
            "currency": "CNY",
            "client": {
                "app_version": user.rng.choice(APP_VERSIONS),
                "network": "weak" if user.client.weak else "wifi",
            },
        }
    )
    result = user.client.pay(payment, body)
    code = result.code
    resolving = ctx.scenario.client.resolve_uncertain
    if resolving and user.client.needs_resolving(payment, result):
        code = user.client.resolve(payment, body, result)
    settle(user, payment, code)
    if resolving and code in UNCERTAIN:
        user.leave_pending(payment, body)  # the merchant's order service closes it later

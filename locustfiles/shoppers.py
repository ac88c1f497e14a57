"""A shopper on a promo day: opens the checkout page (which shows the available credit),
then pays from credit with a fresh idempotency key."""

from __future__ import annotations

import uuid

import orjson
from locust import between, task

from locustfiles.checkout import PaystormUser
from locustfiles.context import APP_VERSIONS, basket_fen, pick_merchant
from locustfiles.outcomes import UNCERTAIN, Payment
from mock_gateway.seed import user_id


class Shopper(PaystormUser):
    wait_time = between(0.5, 2.0)  # replaced by the scenario's think time

    @task
    def checkout(self) -> None:
        # Each checkout is another person: a Locust user is a slot that serves a stream of them.
        start = self.begin()
        if start is None:
            return  # open model, first round: no arrival yet
        start_s, lateness_ms = start
        ctx = self.ctx
        payment = Payment(
            key=ctx.key_prefix + uuid.UUID(int=self.rng.getrandbits(128), version=4).hex,
            user_id=user_id(self.rng.randint(1, ctx.accounts)),
            merchant_id=pick_merchant(self.rng, ctx.merchants),
            amount=basket_fen(self.rng),
            start_s=start_s,
            lateness_ms=lateness_ms,
        )
        ctx.recorder.started(payment)
        page = self.get_json(f"/v1/accounts/{payment.user_id}", name="/v1/accounts/[user_id]")
        if page.code is None and page.body is not None:
            shown = page.body.get("available_credit")
            limit = page.body.get("txn_limit")
            active = page.body.get("status") == "ACTIVE"
            if isinstance(shown, int) and isinstance(limit, int):
                # What the page lets this basket spend: nothing when frozen, capped per payment.
                payment.credit_shown = min(shown, limit) if active else 0
        body = orjson.dumps(
            {
                "user_id": payment.user_id,
                "merchant_id": payment.merchant_id,
                "amount": payment.amount,
                "currency": "CNY",
                "client": {"app_version": self.rng.choice(APP_VERSIONS), "network": "wifi"},
            }
        )
        result = self.post_payment(payment, body)
        code = result.code
        if code in UNCERTAIN and ctx.scenario.client.resolve_uncertain:
            code = self.resolve(payment, body, result)
        self.finish(payment, code)


if __name__ == "__main__":
    from locust import run_single_user

    run_single_user(Shopper)

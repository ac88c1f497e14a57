"""The generator benchmark's baseline: a bare FastHttpUser posting the payment our shopper
posts, with a fresh idempotency key each time and nothing else (no checkout page, no outcome
recording). `locust -f bench/bare_user.py`."""

from __future__ import annotations

import random
import uuid

import orjson
from locust import FastHttpUser, constant, task

ACCOUNTS = 10_000
MERCHANTS = 20


class BarePayer(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()

    @task
    def pay(self) -> None:
        rng = self.rng
        body = orjson.dumps(
            {
                "user_id": f"u{rng.randint(1, ACCOUNTS):06d}",
                "merchant_id": f"m{rng.randint(1, MERCHANTS):05d}",
                "amount": rng.randint(100, 50_000),
                "currency": "CNY",
                "client": {"app_version": "8.0.50", "network": "wifi"},
            }
        )
        key = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        self.client.post(
            "/v1/payments",
            data=body,  # type: ignore[arg-type]  # bytes go out as they are
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Idempotency-Key": key,
            },
        )

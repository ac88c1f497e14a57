"""How a payment row looks to API clients."""

from __future__ import annotations

from typing import Any

PAYMENT_COLUMNS = (
    "payment_id, idempotency_key, user_id, merchant_id, amount, currency, order_id, status, "
    "refunded, channel, code, created_at, updated_at"
)


def payment_view(row: tuple[Any, ...]) -> dict[str, Any]:
    (
        payment_id,
        _key,
        user_id,
        merchant_id,
        amount,
        currency,
        order_id,
        status,
        refunded,
        channel,
        code,
        created_at,
        updated_at,
    ) = row
    return {
        "payment_id": payment_id,
        "status": status,
        "amount": amount,
        "currency": currency,
        "refunded": refunded,
        "user_id": user_id,
        "merchant_id": merchant_id,
        "order_id": order_id,
        "channel": channel,
        "code": code,
        "created_at": created_at,
        "updated_at": updated_at,
    }

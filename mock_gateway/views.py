"""How a payment row looks to API clients."""

from __future__ import annotations

from typing import Any

from mock_gateway.rows import PaymentRow


def payment_view(row: PaymentRow) -> dict[str, Any]:
    return {
        "payment_id": row.payment_id,
        "status": row.status,
        "amount": row.amount,
        "currency": row.currency,
        "refunded": row.refunded,
        "user_id": row.user_id,
        "merchant_id": row.merchant_id,
        "order_id": row.order_id,
        "channel": row.channel,
        "code": row.code,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }

"""The seeded population's identifiers: the gateway seeds them, the shoppers pick them."""

from __future__ import annotations

POPULAR_MERCHANTS = 20  # m00001..m00020 take most checkouts and all accept credit-pay


def user_id(n: int) -> str:
    return f"u{n:06d}"


def merchant_id(n: int) -> str:
    return f"m{n:05d}"

"""The JSON bodies of the gateway's payment API, requests and answers, as msgspec Structs.

The gateway decodes requests with them (`contract.validate.decode_json`), its OpenAPI
document is generated from them, and a client may encode and decode with the same types.
Limits live in the types (`Annotated[..., Meta(...)]`), so the document and the check
cannot disagree. Class names are the document's schema names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from msgspec import Meta, Struct

MAX_AMOUNT = 50_000_000  # fen: 500,000 CNY
MAX_ID_LEN = 64

Network = Literal["wifi", "5g", "4g", "3g", "2g", "weak", "unknown"]
NETWORKS: tuple[str, ...] = get_args(Network)
PaymentStatus = Literal[
    "PENDING", "SUCCEEDED", "FAILED", "REVERSED", "REFUNDED", "PARTIALLY_REFUNDED"
]
PAYMENT_STATUSES: tuple[str, ...] = get_args(PaymentStatus)

Amount = Annotated[int, Meta(ge=1, le=MAX_AMOUNT, description="fen (1 CNY = 100 fen)")]
Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID_LEN)]
Fen = Annotated[int, Meta(description="fen")]
Timestamp = Annotated[datetime, Meta(tz=True, description="UTC, milliseconds")]


# Requests: unknown fields are refused, so a misspelt optional field is not silently lost.


class ClientInfo(Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """What the paying app says about itself."""

    app_version: Annotated[str, Meta(min_length=1, max_length=32)] | None = None
    network: Network | None = None


class PaymentRequest(Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A payment from credit. Same Idempotency-Key and body: the stored answer again."""

    user_id: Annotated[str, Meta(min_length=1, max_length=MAX_ID_LEN, examples=["u000001"])]
    merchant_id: Annotated[str, Meta(min_length=1, max_length=MAX_ID_LEN, examples=["m00001"])]
    amount: Amount
    currency: Literal["CNY"]
    order_id: Id | None = None
    client: ClientInfo | None = None


class RefundRequest(Struct, frozen=True, forbid_unknown_fields=True):
    """Part or all of a captured payment, given back as credit."""

    amount: Amount


# Answers: unknown fields are let through, so a client keeps working when a field is added.


class Payment(Struct, frozen=True):
    """A payment and where it stands."""

    payment_id: str
    status: PaymentStatus
    amount: Fen
    currency: Literal["CNY"]
    refunded: Annotated[int, Meta(ge=0, description="fen")]
    user_id: str
    merchant_id: str
    order_id: str | None
    channel: str | None
    code: Annotated[str | None, Meta(description="failure code, if any")]
    created_at: Timestamp
    updated_at: Timestamp


class Refund(Struct, frozen=True):
    """A refund, with the payment as it stands after it."""

    refund_id: str
    payment_id: str
    amount: Fen
    created_at: Timestamp
    payment: Payment


class Account(Struct, frozen=True):
    """A person's credit account."""

    user_id: str
    credit_limit: Fen
    available_credit: Fen
    txn_limit: Annotated[int, Meta(description="fen: the single-payment limit")]
    status: Literal["ACTIVE", "FROZEN"]


class Merchant(Struct, frozen=True):
    merchant_id: str
    name: str
    accepts_credit: bool


class Health(Struct, frozen=True):
    """Serving, and the population the ledger was seeded with."""

    status: Literal["ok"]
    uptime_s: float
    seed: int
    accounts: Annotated[int, Meta(description="seeded users u000001 …")]
    merchants: Annotated[int, Meta(description="seeded merchants m00001 …")]


class AuditCheck(Struct, frozen=True):
    ok: bool
    detail: Any


class Audit(Struct, frozen=True):
    """The ledger's invariants, checked on one read snapshot."""

    ok: bool
    checks: dict[str, AuditCheck]
    pending: Annotated[int, Meta(description="payments still PENDING")]


REQUESTS = (PaymentRequest, RefundRequest)
ANSWERS = (Payment, Refund, Account, Merchant, Health, Audit)

"""A line of `payments.jsonl`: one payment (or refund) as the client lived it.

One type, one writer (`encode_line`), one reader (`decode_line`, `read_lines`): Locust's
recorder writes the lines, the distributed master re-reads its workers' lines, the runner
reconciles them with the ledger and the report counts them. Field order is the file's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Generic, TypeVar

import msgspec

from contract.codes import Outcome
from contract.validate import explain

REFUND = "refund"  # the one user type whose lines are refunds, not payments
T = TypeVar("T")


class LineError(ValueError):
    """A line that is not a payment line; the message names the field."""


class PaymentLine(msgspec.Struct, frozen=True, kw_only=True):
    """Fields with a default were added later: a line from an older paystorm still reads."""

    type: str  # the user type: shopper, pos or refund
    network: str  # normal or weak
    city: str
    key: str  # the idempotency key (a refund's own key for a refund line)
    payment_id: str | None
    user_id: str
    merchant_id: str
    amount: int
    credit_shown: int | None  # what the checkout page showed; None when it failed to show
    had_credit: bool
    start_s: float  # intended start, seconds since the run's second 0
    latency_ms: float | None  # from the intended start to the outcome
    lateness_ms: float | None = None  # actual start minus intended start
    attempts: Annotated[int, msgspec.Meta(ge=0)] | None = None
    codes: list[str]  # every attempt's code, in order
    outcome: Outcome
    code: str | None  # the final code; None when it succeeded

    @property
    def is_refund(self) -> bool:
        return self.type == REFUND


class LedgerLine(msgspec.Struct, frozen=True):
    """A line of `ledger.jsonl`: one payment as the gateway's ledger has it after the run
    (the admin export writes them, the runner and the self-check reconcile them)."""

    payment_id: str
    key: str  # the payment's idempotency key
    status: str  # SUCCEEDED, PARTIALLY_REFUNDED, REFUNDED, REVERSED, FAILED or PENDING
    amount: int
    refunded: int
    user_id: str
    merchant_id: str
    channel: str | None
    code: str | None


class LedgerStatus(msgspec.Struct, frozen=True):
    """A ledger line read for its key and status only (the rest is skipped, not parsed)."""

    key: str
    status: str


_encoder = msgspec.json.Encoder()


def encode_line(line: PaymentLine | LedgerLine) -> bytes:
    return _encoder.encode(line) + b"\n"


class _Format(Generic[T]):
    """One line type's decoder: a bad line is a LineError naming the field, or its number
    in a file."""

    def __init__(self, kind: type[T]) -> None:
        self._kind = kind
        self._decoder = msgspec.json.Decoder(kind)

    def decode(self, raw: bytes) -> T:
        try:
            return self._decoder.decode(raw)
        except msgspec.ValidationError as exc:
            raise LineError(str(explain(str(exc), _raw(raw), self._kind))) from None
        except msgspec.DecodeError as exc:
            reason = str(exc)
            raise LineError(f"not valid JSON ({reason[:1].lower()}{reason[1:]})") from None

    def read(self, path: Path) -> Iterator[T]:
        with path.open("rb") as fh:
            for n, raw in enumerate(fh, 1):
                if raw.isspace():
                    continue
                try:
                    yield self.decode(raw)
                except LineError as exc:
                    raise LineError(f"{path} line {n}: {exc}") from None


def _raw(raw: bytes) -> object:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None


_PAYMENTS = _Format(PaymentLine)
_LEDGER = _Format(LedgerLine)
_STATUSES = _Format(LedgerStatus)  # a pass cheap enough for a million ledger lines
decode_line = _PAYMENTS.decode
read_lines = _PAYMENTS.read
decode_ledger_line = _LEDGER.decode
read_ledger_statuses = _STATUSES.read

"""The client's belief about each payment against the ledger's truth (pure functions).

A **ghost charge** is money taken while the person was not told the payment succeeded (they
will likely pay again); a **lost success** is a payment the client was told succeeded that
the ledger never captured. Refunds are checked per payment: a **lost refund** is one the
refunder was told was done that the ledger does not show (the person is out of pocket); a
**ghost refund** is money given back while the refunder was not told so (it may be refunded
twice)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contract.lines import LedgerLine, PaymentLine

# Money still taken from the person.
CHARGED = frozenset({"SUCCEEDED", "PARTIALLY_REFUNDED"})
EXAMPLES = 5


@dataclass
class Reconciliation:
    payments: int = 0
    matched: int = 0
    ghost_charges: int = 0
    lost_successes: int = 0
    unsettled: int = 0
    """Still PENDING in the ledger when the run ended (after the settle wait)."""
    refunds: int = 0
    lost_refunds: int = 0
    ghost_refunds: int = 0
    ghost_examples: list[dict[str, Any]] = field(default_factory=list)
    lost_examples: list[dict[str, Any]] = field(default_factory=list)
    refund_examples: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "payments": self.payments,
            "matched": self.matched,
            "ghost_charges": self.ghost_charges,
            "lost_successes": self.lost_successes,
            "unsettled": self.unsettled,
            "refunds": self.refunds,
            "lost_refunds": self.lost_refunds,
            "ghost_refunds": self.ghost_refunds,
            "examples": [{"kind": "ghost_charge", **e} for e in self.ghost_examples]
            + [{"kind": "lost_success", **e} for e in self.lost_examples]
            + self.refund_examples,
        }


def is_ghost(line: PaymentLine, ledger_status: str | None) -> bool:
    """Money taken while the person was not told the payment succeeded."""
    return not line.is_refund and line.outcome != "succeeded" and ledger_status in CHARGED


def reconcile(client: Iterable[PaymentLine], ledger: Mapping[str, LedgerLine]) -> Reconciliation:
    """`client`: the payment lines; `ledger`: the ledger's payments by idempotency key."""
    result = Reconciliation()
    refunds: dict[str, list[PaymentLine]] = {}
    for payment in client:
        if payment.is_refund:
            refunds.setdefault(str(payment.payment_id), []).append(payment)
            continue
        result.payments += 1
        truth = ledger.get(payment.key)
        status = None if truth is None else truth.status
        if truth is not None:
            result.matched += 1
        if status == "PENDING":
            result.unsettled += 1
        told_success = payment.outcome == "succeeded"
        example = {
            "key": payment.key,
            "payment_id": None if truth is None else truth.payment_id,
            "client_outcome": payment.outcome,
            "client_code": payment.code,
            "codes_seen": payment.codes,
            "ledger_status": status,
        }
        if is_ghost(payment, status):
            result.ghost_charges += 1
            if len(result.ghost_examples) < EXAMPLES:
                result.ghost_examples.append(example)
        elif told_success and status in (None, "FAILED"):
            result.lost_successes += 1
            if len(result.lost_examples) < EXAMPLES:
                result.lost_examples.append(example)
    _reconcile_refunds(result, refunds, ledger)
    return result


def _reconcile_refunds(
    result: Reconciliation,
    refunds: Mapping[str, list[PaymentLine]],
    ledger: Mapping[str, LedgerLine],
) -> None:
    """Per payment: the refunds the client was told were done against the ledger's total,
    with the uncertain ones as the slack either way."""
    refunded = {p.payment_id: p.refunded for p in ledger.values()}
    for payment_id, lines in refunds.items():
        result.refunds += len(lines)
        told = sum(r.amount for r in lines if r.outcome == "succeeded")
        maybe = sum(r.amount for r in lines if r.outcome == "unknown")
        truth = refunded.get(payment_id, 0)
        kind = None
        if truth < told:
            result.lost_refunds += 1
            kind = "lost_refund"
        elif truth > told + maybe:
            result.ghost_refunds += 1
            kind = "ghost_refund"
        if kind is not None and len(result.refund_examples) < 2 * EXAMPLES:
            result.refund_examples.append(
                {
                    "kind": kind,
                    "payment_id": payment_id,
                    "refunds_told_done": told,
                    "refunds_unknown": maybe,
                    "ledger_refunded": truth,
                    "refund_keys": [r.key for r in lines],
                }
            )

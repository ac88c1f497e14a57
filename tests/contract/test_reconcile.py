from __future__ import annotations

from typing import Any

from contract.lines import LedgerLine, PaymentLine
from contract.reconcile import reconcile


def _line(**fields: Any) -> PaymentLine:
    base: dict[str, Any] = {
        "type": "shopper",
        "network": "normal",
        "city": "",
        "key": "k",
        "payment_id": None,
        "user_id": "u000001",
        "merchant_id": "m00001",
        "amount": 100,
        "credit_shown": 1_000,
        "had_credit": True,
        "start_s": 0.0,
        "latency_ms": 10.0,
        "lateness_ms": 0.0,
        "attempts": 1,
        "codes": [],
        "outcome": "succeeded",
        "code": None,
    }
    return PaymentLine(**(base | fields))


def _client(key: str, outcome: str, code: str | None = None) -> PaymentLine:
    return _line(key=key, outcome=outcome, code=code, codes=[code] if code else [])


def _ledger(*rows: tuple[str, str], refunded: int = 0) -> dict[str, LedgerLine]:
    return {
        key: LedgerLine(
            payment_id=f"pay_{key}",
            key=key,
            status=status,
            amount=1_000,
            refunded=refunded,
            user_id="u000001",
            merchant_id="m00001",
            channel="bank_a",
            code=None,
        )
        for key, status in rows
    }


def test_a_charge_the_client_was_not_told_of_is_a_ghost_charge() -> None:
    client = [
        _client("a", "unknown", "CONNECTION_ERROR"),  # response lost after commit
        _client("b", "failed", "CHANNEL_TIMEOUT"),  # settled as captured later
        _client("c", "succeeded"),
        _client("d", "unknown", "CLIENT_TIMEOUT"),  # resolved: reversed by the client
        _client("e", "failed", "SYSTEM_BUSY"),  # never recorded
    ]
    ledger = _ledger(
        ("a", "SUCCEEDED"), ("b", "PARTIALLY_REFUNDED"), ("c", "SUCCEEDED"), ("d", "REVERSED")
    )
    result = reconcile(client, ledger)
    assert result.ghost_charges == 2
    assert {e["key"] for e in result.ghost_examples} == {"a", "b"}
    assert result.lost_successes == 0
    assert result.matched == 4 and result.payments == 5


def test_a_success_the_ledger_never_captured_is_a_lost_success() -> None:
    client = [_client("a", "succeeded"), _client("b", "succeeded"), _client("c", "succeeded")]
    result = reconcile(client, _ledger(("a", "FAILED"), ("c", "REFUNDED")))
    assert result.lost_successes == 2
    assert {e["key"] for e in result.lost_examples} == {"a", "b"}
    assert result.ghost_charges == 0


def test_pending_payments_are_counted_as_unsettled_not_judged() -> None:
    result = reconcile([_client("a", "unknown", "PAYMENT_PENDING")], _ledger(("a", "PENDING")))
    assert (result.unsettled, result.ghost_charges, result.lost_successes) == (1, 0, 0)


def test_examples_are_capped_and_the_json_lists_them_by_kind() -> None:
    client = [_client(f"k{n}", "unknown", "CONNECTION_ERROR") for n in range(20)]
    ledger = _ledger(*((f"k{n}", "SUCCEEDED") for n in range(20)))
    data = reconcile(client, ledger).as_json()
    assert data["ghost_charges"] == 20
    assert len(data["examples"]) == 5
    assert all(
        e["kind"] == "ghost_charge" and e["ledger_status"] == "SUCCEEDED" for e in data["examples"]
    )


def _refund(key: str, payment_key: str, amount: int, outcome: str) -> PaymentLine:
    return _line(
        type="refund",
        key=key,
        payment_id=f"pay_{payment_key}",
        amount=amount,
        had_credit=False,
        outcome=outcome,
        code=None if outcome == "succeeded" else "DB_TIMEOUT",
    )


def test_refunds_are_checked_against_what_the_ledger_gave_back_per_payment() -> None:
    client = [
        _client("a", "succeeded"),
        _client("b", "succeeded"),
        _client("c", "succeeded"),
        _client("d", "succeeded"),
        _refund("ra", "a", 300, "succeeded"),  # done, and the ledger agrees
        _refund("rb", "b", 200, "succeeded"),  # told done, but never given back
        _refund("rc", "c", 400, "failed"),  # told failed, yet given back
        _refund("rd", "d", 100, "unknown"),  # maybe: either way is consistent
    ]
    ledger = (
        _ledger(("a", "PARTIALLY_REFUNDED"), refunded=300)
        | _ledger(("b", "SUCCEEDED"))
        | _ledger(("c", "PARTIALLY_REFUNDED"), refunded=400)
        | _ledger(("d", "PARTIALLY_REFUNDED"), refunded=100)
    )
    result = reconcile(client, ledger)
    assert result.payments == 4  # refund lines are not payments
    assert (result.refunds, result.lost_refunds, result.ghost_refunds) == (4, 1, 1)
    kinds = {e["kind"]: e for e in result.as_json()["examples"]}
    assert kinds["lost_refund"]["payment_id"] == "pay_b"
    assert kinds["lost_refund"]["ledger_refunded"] == 0
    assert kinds["ghost_refund"]["refund_keys"] == ["rc"]
    assert result.ghost_charges == 0 and result.lost_successes == 0

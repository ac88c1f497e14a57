from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson

from contract.codes import RUN_ENDED, outcome_of
from locustfiles.outcomes import Payment, Recorder, percentile


def _payment(start_s: float, amount: int = 1000, shown: int | None = 5000) -> Payment:
    return Payment(
        key=f"k{start_s}",
        user_id="u000001",
        merchant_id="m00001",
        amount=amount,
        start_s=start_s,
        credit_shown=shown,
    )


def test_codes_are_classified_into_the_four_outcomes() -> None:
    assert outcome_of(None) == "succeeded"
    assert outcome_of("INSUFFICIENT_CREDIT") == "declined"
    assert outcome_of("ACCOUNT_FROZEN") == "declined"
    assert outcome_of("SYSTEM_BUSY") == "failed"
    assert outcome_of("MERCHANT_NOT_SUPPORTED") == "failed"
    for uncertain in ("PAYMENT_PENDING", "CHANNEL_TIMEOUT", "CLIENT_TIMEOUT", "BAD_RESPONSE"):
        assert outcome_of(uncertain) == "unknown"


def test_payments_count_in_the_second_they_were_due_not_when_they_ended() -> None:
    rec = Recorder()
    slow = _payment(0.9)
    rec.started(slow)
    rec.attempted(slow)
    slow.code = "SYSTEM_BUSY"
    rec.finish(slow, now_s=3.4)  # ended in second 3, due in second 0
    fast = _payment(2.1)
    rec.started(fast)
    rec.attempted(fast)
    rec.attempted(fast)  # one retry
    rec.finish(fast, now_s=2.2)
    rows = {r["time"]: r for r in rec.rows()}
    assert rows[0]["payments"] == 1 and rows[0]["failed"] == 1
    assert rows[0]["code_SYSTEM_BUSY"] == 1
    assert rows[0]["p50_ms"] == 2500.0
    assert rows[1]["payments"] == 0 and rows[1]["p50_ms"] == ""
    assert rows[2]["succeeded"] == 1 and rows[2]["attempts"] == 2
    assert rows[2]["code_SYSTEM_BUSY"] == 0


def test_had_credit_follows_the_credit_the_page_showed() -> None:
    rec = Recorder()
    poor = _payment(0.1, amount=9000, shown=100)
    poor.code = "INSUFFICIENT_CREDIT"
    hidden = _payment(0.2, shown=None)  # the checkout page failed: counted against the gateway
    hidden.code = "SYSTEM_BUSY"
    frozen = _payment(0.25, shown=None)  # no page, but the answer says it could not pay
    frozen.code = "ACCOUNT_FROZEN"
    fine = _payment(0.3)
    for p in (poor, hidden, frozen, fine):
        rec.started(p)
        rec.finish(p, now_s=0.5)
    row = rec.rows()[0]
    assert row["had_credit"] == 2
    assert row["had_credit_failed"] == 1
    assert row["declined"] == 2


def test_payments_open_at_the_end_are_counted_as_unknown_not_lost() -> None:
    log = io.BytesIO()
    rec = Recorder(log)
    stuck = _payment(1.0)
    rec.started(stuck)
    rec.attempted(stuck)
    assert rec.close_open(now_s=9.0) == 1
    row = rec.rows()[1]
    assert row["unknown"] == 1 and row[f"code_{RUN_ENDED}"] == 1
    line = orjson.loads(log.getvalue().splitlines()[0])
    assert line["outcome"] == "unknown" and line["code"] == RUN_ENDED
    assert line["codes"] == [RUN_ENDED] and line["attempts"] == 1
    rec.finish(stuck, now_s=10.0)  # a late finish of a closed payment changes nothing
    assert rec.rows()[1]["payments"] == 1 and rec.finished == 1


def test_dropped_arrivals_are_offered_load() -> None:
    rec = Recorder()
    rec.dropped(0.5, 3)
    p = _payment(0.6)
    rec.started(p)
    rec.finish(p, 0.7)
    row = rec.rows()[0]
    assert row["offered"] == 4 and row["dropped"] == 3 and row["payments"] == 1


def test_outcomes_csv_has_the_design_columns(tmp_path: Path) -> None:
    rec = Recorder()
    p = _payment(0.0)
    p.code = "RISK_DECLINED"
    rec.started(p)
    rec.finish(p, 0.1)
    path = tmp_path / "outcomes.csv"
    rec.write_outcomes(path)
    with path.open() as fh:
        header = next(csv.reader(fh))
    for column in (
        "time",
        "users",
        "offered",
        "dropped",
        "attempts",
        "succeeded",
        "declined",
        "failed",
        "unknown",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "code_RISK_DECLINED",
    ):
        assert column in header


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0


def test_the_payment_log_carries_start_lateness() -> None:
    log = io.BytesIO()
    rec = Recorder(log)
    late = _payment(1.0)
    late.lateness_ms = 2.3456
    rec.started(late)
    rec.finish(late, now_s=1.05)
    line = orjson.loads(log.getvalue())
    assert line["lateness_ms"] == 2.346 and line["start_s"] == 1.0
    assert line["latency_ms"] == 50.0  # from the intended start, lateness included


def test_refunds_are_counted_beside_payments_not_among_them() -> None:
    log = io.BytesIO()
    rec = Recorder(log)
    bought = _payment(0.2)
    rec.started(bought)
    rec.attempted(bought)
    rec.finish(bought, now_s=0.3)
    for n, code in enumerate((None, "DB_TIMEOUT")):
        refund = Payment(
            key=f"r{n}",
            user_id="u000001",
            merchant_id="m00001",
            amount=300,
            start_s=0.5,
            kind="refund",
            payment_id="pay_1",
        )
        rec.started(refund)
        rec.attempted(refund)
        refund.code = code
        rec.finish(refund, now_s=0.6)
    (row,) = rec.rows()
    assert (row["payments"], row["refunds"], row["refunds_failed"]) == (1, 2, 1)
    assert row["offered"] == 3
    assert row["attempts"] == 1  # retry amplification is a payments' measure
    assert (row["had_credit"], row["succeeded"], row["unknown"]) == (1, 1, 0)
    assert "code_DB_TIMEOUT" not in row  # a payment failure cause, not a refund's
    lines = [orjson.loads(x) for x in log.getvalue().splitlines()]
    assert [x["type"] for x in lines] == ["shopper", "refund", "refund"]
    assert lines[2]["outcome"] == "unknown" and lines[2]["had_credit"] is False

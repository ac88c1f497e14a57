"""The web UI's live view as pure arithmetic on a recorder (no Locust): rows as outcomes.csv
has them, rates only over seconds whose payments have all ended, percentiles within 1 %, the
objectives in words, and the start page's picture of a scenario."""

from __future__ import annotations

import random
import time

import pytest

from locustfiles.context import RunContext
from locustfiles.live import LatencySoFar, LiveRun, scenario_card
from locustfiles.outcomes import Payment, Recorder, percentile
from scenarios.loader import load_scenario, parse_scenario

STAGES = [{"until_s": 5, "rate": 10}, {"until_s": 10, "rate": 40}]
SCENARIO = {
    "name": "live-unit",
    "duration_s": 10,
    "load": {"model": "arrival-rate", "stages": STAGES},
    "faults": [{"kind": "latency", "params": {"ms": 5}, "start_in_s": 2, "duration_s": 3}],
    "slo": {"success_rate": 0.9, "p99_ms": 800},
}


def _run(elapsed_s: float) -> RunContext:
    ctx = RunContext(scenario=parse_scenario(SCENARIO, "test"), results_dir=None)
    ctx.started, ctx.t0 = True, time.time() - elapsed_s
    return ctx


def _pay(rec: Recorder, start_s: float, code: str | None, latency_s: float) -> Payment:
    payment = Payment(
        key=f"k{start_s}", user_id="u", merchant_id="m", amount=100, start_s=start_s,
        credit_shown=1000,
    )  # fmt: skip
    rec.started(payment)
    rec.attempted(payment)
    payment.code = code
    rec.finish(payment, start_s + latency_s)
    return payment


def test_rows_are_the_recorders_and_rates_wait_for_a_second_to_end() -> None:
    ctx = _run(elapsed_s=5.5)
    rec = ctx.recorder
    for i in range(10):  # seconds 0-2: nine of ten paid
        for sec in range(3):
            _pay(rec, sec + i / 10, None if i else "SYSTEM_BUSY", 0.05)
    # Second 3: the fast half paid, the slow half still in flight (they will time out).
    for i in range(5):
        _pay(rec, 3 + i / 10, None, 0.05)
    for i in range(5):
        slow = Payment(key=f"s{i}", user_id="u", merchant_id="m", amount=100, start_s=3.5 + i / 10)
        rec.started(slow)

    # Second 4 started fast and ended: it does not count while second 3 has not.
    _pay(rec, 4.1, None, 0.05)

    view = LiveRun(ctx).snapshot(0)

    assert [r["time"] for r in view["seconds"]] == [0, 1, 2, 3, 4]
    for row in view["seconds"]:
        expected = rec.row(row["time"])
        assert {k: row[k] for k in ("offered", "succeeded", "p99_ms")} == {
            k: expected[k] for k in ("offered", "succeeded", "p99_ms")
        }
    assert [r["in_flight"] for r in view["seconds"]] == [0, 0, 0, 5, 0]
    assert view["seconds"][0]["causes"] == {"SYSTEM_BUSY": 1}
    # Second 3 is all success so far, but not over: the rate is 27 of 30, not 32 of 35.
    assert view["totals"]["settled_to"] == 2
    assert view["totals"]["success_rate"] == pytest.approx(27 / 30)
    assert view["totals"]["offered"] == 41 and view["in_flight"] == 5
    judged = {o["name"]: o for o in view["objectives"]}
    assert judged["success_rate"]["state"] == "met"
    assert judged["success_rate"]["words"] == "90.00 % so far, >= 90.00 %"
    assert judged["dropped_rate"]["implicit"] and judged["dropped_rate"]["state"] == "met"


def test_dropped_arrivals_count_as_people_not_served() -> None:
    ctx = _run(elapsed_s=3.0)
    for i in range(8):
        _pay(ctx.recorder, 1 + i / 10, None, 0.01)
    ctx.recorder.dropped(1.5, count=2)
    view = LiveRun(ctx).snapshot(0)
    assert view["totals"]["success_rate"] == pytest.approx(8 / 10)
    assert view["totals"]["dropped_rate"] == pytest.approx(2 / 10)
    judged = {o["name"]: o["state"] for o in view["objectives"]}
    assert judged == {"success_rate": "failing", "p99_ms": "met", "dropped_rate": "failing"}


def test_latency_percentiles_err_high_by_at_most_one_percent() -> None:
    rng = random.Random(7)
    rec = Recorder()
    for i in range(5_000):
        _pay(rec, i / 1000, None, rng.lognormvariate(-1.5, 1.0))
    latencies = sorted(x for s in rec.seconds.values() for x in s.latencies_ms)
    so_far = LatencySoFar()
    so_far.update(rec, set(rec.seconds))
    for q, approx in zip((0.5, 0.95, 0.99), so_far.quantiles(0.5, 0.95, 0.99), strict=True):
        exact = percentile(latencies, 100 * q)
        assert approx is not None and exact <= approx <= exact * 1.01 + 0.1, (q, exact, approx)
    assert so_far.count == 5_000
    so_far.update(rec, set(rec.seconds))  # nothing new: nothing counted twice
    assert so_far.count == 5_000


def test_the_scenario_card_draws_its_load_and_faults() -> None:
    card = scenario_card(parse_scenario(SCENARIO, "test"))
    levels = dict((t, v) for t, v in card["shape"])
    assert levels[0.0] == 10 and card["shape"][-1][1] == 40  # the last point is inside the run
    assert card["faults"] == [{"kind": "latency", "params": {"ms": 5}, "start_s": 2, "end_s": 5}]
    assert card["slo"] == {"success_rate": 0.9, "p99_ms": 800}
    steady = scenario_card(load_scenario("steady"))
    assert steady["description"] and steady["shape"]


def test_a_master_counts_a_second_once_its_slowest_person_is_done() -> None:
    # A master hears of a payment only once it has ended on its worker: nothing is open.
    ctx = _run(elapsed_s=30.0)
    for sec in range(30):
        _pay(ctx.recorder, sec + 0.5, None, 0.05)
    view = LiveRun(ctx, in_flight_known=False)
    snapshot = view.snapshot(0)
    assert snapshot["in_flight"] is None
    assert snapshot["totals"]["settled_to"] == 29 - view.settle_s
    assert view.snapshot(0, stopped=True)["totals"]["settled_to"] == 29

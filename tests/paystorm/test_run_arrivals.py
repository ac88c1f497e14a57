"""End to end: the open model through `paystorm run`, with real gateway and Locust processes.

Two runs side by side: a steady rate the pool serves whole (at `--speed 2`, with a fault
timeline that touches no payment, to check the compressed clock), and a pool too small for
its rate in front of a gateway with a known service time, to check what is dropped."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.paystorm.runs import Finished, Run

# The offered rate and the lateness are measured: the generator needs the machine to itself.
pytestmark = pytest.mark.exclusive

ARRIVALS_PY = Path(__file__).parents[2] / "locustfiles" / "arrivals.py"
LATENESS_ROUNDING_MS = 0.0005  # payments.jsonl keeps lateness_ms to three decimals
START_RESOLUTION_S = 1e-4 + 1e-9  # … and start_s to four
# The scheduler wakes up to about a millisecond after an arrival is due (gevent's timer
# tick), and the user begins its payment a moment after taking the arrival.
SCHEDULER_SLACK_MS = 2.0
# A stall of the generator process: arrivals due within STALL_GAP_S of one another that
# all began late, spanning at most STALL_MAX_S of intended starts.
STALL_GAP_S = 0.05
STALL_MAX_S = 0.2

SPEED = 2.0
RATE = 150  # per wall second, whatever the speed
STEADY_S = 6  # scenario seconds: 3 wall seconds at SPEED
# Faults on a route no person calls (the merchant page): their windows land in faults.json
# on the run's clock without changing a payment.
TIMELINE: list[dict[str, Any]] = [
    {
        "kind": "latency",
        "params": {"ms": 1},
        "target": {"route": "merchant"},
        "start_in_s": 1,
        "duration_s": 2,
    },
    {
        "kind": "error",
        "params": {"code": "INTERNAL_ERROR", "rate": 1},
        "target": {"route": "merchant"},
        "start_in_s": 3,
        "duration_s": 2.4,
    },
]
STEADY: dict[str, Any] = {
    "name": "steady-arrivals",
    "description": "A steady 150 payments/s for a few seconds.",
    "duration_s": STEADY_S,
    "load": {
        "model": "arrival-rate",
        "max_users": 100,
        "stages": [{"until_s": STEADY_S, "rate": RATE}],
    },
    "mix": {"shopper": 100},
    "client": {"timeout_s": 5, "retry": "backoff", "max_retries": 1},
    "faults": TIMELINE,
}

# A shopper makes two requests (the checkout page, then the payment), each held SERVICE_MS
# by the gateway and nothing else: no channel time, no fsync. A pool of POOL users then
# serves POOL / (2 · SERVICE_MS) arrivals a second, and the rest of BUSY_RATE is dropped.
SERVICE_MS = 250
POOL = 50
BUSY_RATE = 200
BUSY_S = 4
SERVICE_S = 2 * SERVICE_MS / 1000
ORACLE_DROPPED = BUSY_RATE - POOL / SERVICE_S  # per second: 200 - 50 / 0.5 = 100
assert POOL < BUSY_RATE * SERVICE_S and ORACLE_DROPPED > 0.3 * BUSY_RATE
BUSY: dict[str, Any] = {
    "name": "busy-pool",
    "description": "A pool smaller than its arrival rate times the service time.",
    "duration_s": BUSY_S,
    "load": {
        "model": "arrival-rate",
        "max_users": POOL,
        "stages": [{"until_s": BUSY_S, "rate": BUSY_RATE}],
    },
    "mix": {"shopper": 100},
    "client": {"timeout_s": 5, "retry": "none"},
    "gateway": {"profile": "bench", "ledger": {"fsync": False}},
    "faults": [{"kind": "latency", "params": {"ms": SERVICE_MS, "distribution": "fixed"}}],
}


def _drop_after_ms() -> float:
    """The executor's pick-up rule, read from its source (importing it would import gevent)."""
    found = re.search(r"^DROP_AFTER_S = ([0-9.]+)", ARRIVALS_PY.read_text(), re.MULTILINE)
    assert found, "DROP_AFTER_S not found in locustfiles/arrivals.py"
    return float(found.group(1)) * 1000


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def _rows(run: Finished) -> list[dict[str, str]]:
    return list(csv.DictReader((run.run_dir / "outcomes.csv").read_text().splitlines()))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Finished, Finished]:
    tmp = tmp_path_factory.mktemp("arrivals")
    started = [Run(tmp, STEADY, "--speed", f"{SPEED:g}"), Run(tmp, BUSY)]
    try:
        steady, busy = (r.finish() for r in started)
    finally:
        for r in started:  # one failed: the other stops too
            if r.proc.poll() is None:
                r.proc.kill()
            r.proc.communicate()
    return steady, busy


@pytest.fixture(scope="module")
def steady_run(runs: tuple[Finished, Finished]) -> Finished:
    return runs[0]


@pytest.fixture(scope="module")
def busy_run(runs: tuple[Finished, Finished]) -> Finished:
    return runs[1]


def test_the_offered_rate_holds_in_every_second(steady_run: Finished) -> None:
    rows = _rows(steady_run)
    wall_s = int(STEADY_S / SPEED)
    # Second 0 is the first second of load, and the schedule counts exactly: no partial
    # seconds at either end. Rates are per wall second at any speed.
    assert [int(r["time"]) for r in rows] == list(range(wall_s))
    assert [int(r["offered"]) for r in rows] == [RATE] * wall_s
    assert sum(int(r["dropped"]) for r in rows) == 0
    for row in rows:
        assert int(row["payments"]) == RATE
        assert 0 < int(row["users"]) <= 100  # busy users, the peak of the second


def test_every_arrival_starts_at_its_scheduled_time(steady_run: Finished) -> None:
    # Arrival n is due when the integral of the rate reaches n + ½: at (n + ½) / rate. Every
    # one of them was served (none dropped), so the lines' intended starts are the schedule.
    count = int(RATE * STEADY_S / SPEED)
    starts = sorted(p["start_s"] for p in steady_run.payments)
    assert len(starts) == count
    for n, start_s in enumerate(starts):
        # Arrivals are 1/RATE apart, far more than the file's resolution: each is pinned.
        assert abs(start_s - (n + 0.5) / RATE) <= START_RESOLUTION_S, (n, start_s)
    run = _read_json(steady_run.run_dir / "run.json")
    assert run["stop_reason"] == "completed"


def test_payments_are_timed_from_their_intended_start(steady_run: Finished) -> None:
    for p in steady_run.payments:
        assert p["lateness_ms"] >= 0, p
        # Latency runs from the intended start, so it includes the lateness.
        assert p["latency_ms"] >= p["lateness_ms"] - 0.01, p


def test_fault_windows_run_on_the_compressed_clock(steady_run: Finished) -> None:
    windows = _read_json(steady_run.run_dir / "faults.json")
    assert isinstance(windows, list)
    assert [w["kind"] for w in windows] == [f["kind"] for f in TIMELINE]
    for window, fault in zip(windows, TIMELINE, strict=True):
        assert window["started_at_s"] == pytest.approx(fault["start_in_s"] / SPEED, abs=0.05)
        assert window["ended_at_s"] == pytest.approx(
            (fault["start_in_s"] + fault["duration_s"]) / SPEED, abs=0.05
        )
    # They touched no payment.
    assert all(p["code"] != "INTERNAL_ERROR" for p in steady_run.payments)


def test_a_pool_too_small_drops_what_it_cannot_serve(busy_run: Finished) -> None:
    rows = _rows(busy_run)
    assert [int(r["time"]) for r in rows] == list(range(BUSY_S))
    assert [int(r["offered"]) for r in rows] == [BUSY_RATE] * BUSY_S
    assert all(int(r["users"]) <= POOL for r in rows)
    # Second 0 fills the idle pool; from then on each user serves one arrival every
    # SERVICE_S, so the pool serves POOL / SERVICE_S a second and drops the rest.
    steady = rows[1:]
    for row in steady:
        assert int(row["dropped"]) == pytest.approx(ORACLE_DROPPED, rel=0.05), row
    dropped = sum(int(r["dropped"]) for r in steady)
    assert dropped == pytest.approx(ORACLE_DROPPED * len(steady), rel=0.03)
    assert busy_run.summary["dropped"] == sum(int(r["dropped"]) for r in rows)
    assert len(busy_run.payments) == sum(int(r["payments"]) for r in rows)


def test_under_a_busy_pool_latency_runs_from_the_intended_start(busy_run: Finished) -> None:
    (window,) = _read_json(busy_run.run_dir / "faults.json")
    # From the moment the gateway holds every request SERVICE_MS (it is put on at second 0).
    served = [p for p in busy_run.payments if p["start_s"] >= window["started_at_s"]]
    assert len(served) >= 0.9 * len(busy_run.payments)
    for p in served:
        # Two requests held SERVICE_MS each, after however long the arrival waited (less the
        # event loop's timer resolution, about 1 ms a sleep).
        assert p["latency_ms"] >= p["lateness_ms"] + 2 * SERVICE_MS - 2.0, p
    # A busy pool makes arrivals wait for a user.
    assert sum(p["lateness_ms"] > 1.0 for p in served) > 0.1 * len(served)


def _episodes(starts: list[float]) -> list[tuple[float, float]]:
    """Intended starts grouped into runs of arrivals no more than STALL_GAP_S apart."""
    out: list[tuple[float, float]] = []
    for t in sorted(starts):
        if out and t - out[-1][1] <= STALL_GAP_S:
            out[-1] = (out[-1][0], t)
        else:
            out.append((t, t))
    return out


def test_a_served_arrival_was_taken_within_the_pick_up_rule(
    steady_run: Finished, busy_run: Finished
) -> None:
    """An arrival no user takes within DROP_AFTER_S of its release is dropped, so a served one
    began at most that late, give or take the scheduler's tick.

    The lines do not say when an arrival was released, so a moment when the generator process
    itself stood still (another process had the CPU; the first person of a run loads the
    city list) shows as lateness too: every arrival due in it is released late, together.
    Those are allowed as brief episodes; arrivals waiting past the rule would be late all
    through the busy run."""
    limit_ms = _drop_after_ms() + SCHEDULER_SLACK_MS + LATENESS_ROUNDING_MS
    for run, seconds in ((steady_run, STEADY_S / SPEED), (busy_run, BUSY_S)):
        late = [p["start_s"] for p in run.payments if p["lateness_ms"] > limit_ms]
        stalls = _episodes(late)
        assert all(end - begin <= STALL_MAX_S for begin, end in stalls), stalls
        assert len(stalls) <= seconds, stalls
    # Under the busy pool arrivals do wait for a user, up to the limit.
    waits = [p["lateness_ms"] for p in busy_run.payments]
    assert any(0.5 * limit_ms < w <= limit_ms for w in waits)

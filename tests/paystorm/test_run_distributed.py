"""End to end: the same scenario on a master and two worker processes offers the same load
and yields one results folder with the same numbers as one process would."""

from __future__ import annotations

import csv
import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import IO

import pytest
import yaml

from tests.paystorm.runs import SMALL_POPULATION, Run

# Workers join and leave on the wall clock while the offered rate is counted per second: a
# run beside them starves the master's ticks (a run cut to 7 of its 10 seconds).
pytestmark = pytest.mark.exclusive

RATE, DURATION_S = 60, 6


def test_two_worker_processes_share_the_arrivals_and_report_as_one(tmp_path: Path) -> None:
    scenario = {
        "name": "two-workers",
        "duration_s": DURATION_S,
        "load": {
            "model": "arrival-rate",
            "max_users": 80,
            "stages": [{"until_s": DURATION_S, "rate": RATE}],
        },
        "mix": {"shopper": 80, "pos": 10, "refund": 10},
        "client": {"timeout_s": 5, "retry": "none"},
        "faults": [
            {
                "kind": "error",
                "params": {"code": "SYSTEM_BUSY", "rate": 0.5},
                "target": {"route": "pay"},
                "start_in_s": 2,
                "duration_s": 2,
                "seed": 9,
            }
        ],
    }
    run = Run(tmp_path, scenario, "--processes", "2").finish()
    # The master put the timeline on the gateway once, on the run's clock.
    (window,) = json.loads((run.run_dir / "faults.json").read_text())
    assert window["kind"] == "error" and abs(window["started_at_s"] - 2) < 0.5
    busy = [p["start_s"] for p in run.payments if p["code"] == "SYSTEM_BUSY"]
    assert busy and all(1.5 <= t <= 4.5 for t in busy)
    rows = list(csv.DictReader((run.run_dir / "outcomes.csv").read_text().splitlines()))
    offered = [int(r["offered"]) for r in rows]
    # Every second offered the target rate: the workers split it, neither doubled nor halved.
    assert offered[:DURATION_S] == [RATE] * DURATION_S, offered
    assert sum(offered) == RATE * DURATION_S
    assert sum(int(r["dropped"]) for r in rows) == 0
    # Each worker served its half; every line reached the master's folder once.
    lines = run.payments
    assert len(lines) == RATE * DURATION_S
    assert len({p["key"] for p in lines}) == len(lines)
    by_worker = Counter(p["key"][:-32] for p in lines if p["type"] != "refund")
    assert len(by_worker) == 2 and min(by_worker.values()) >= 0.4 * sum(by_worker.values())
    # The per-second attempts are the merged per-payment attempts.
    payments = [p for p in lines if p["type"] != "refund"]
    assert sum(int(r["attempts"]) for r in rows) == sum(p["attempts"] for p in payments)
    assert run.summary["attempts"] == sum(p["attempts"] for p in payments)
    assert run.summary["payments"] == len(payments)
    assert run.reconcile["payments"] == len(payments)
    # Every payment the gateway got past its injected errors is in the ledger under its key.
    refused = sum(1 for p in payments if p["code"] == "SYSTEM_BUSY")
    assert run.reconcile["matched"] == len(payments) - refused
    assert run.reconcile["ghost_charges"] == 0 and run.reconcile["lost_refunds"] == 0


def _progress_s(out: Path) -> float:
    for progress in out.glob("*/progress.json"):
        try:
            return float(json.loads(progress.read_text())["elapsed_s"])
        except (ValueError, KeyError):
            return 0.0  # being replaced right now
    return 0.0


def _wait_until(out: Path, elapsed_s: float, run: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while _progress_s(out) < elapsed_s:
        assert run.poll() is None, "the run ended early"
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.1)  # polling a file another process writes


class Output:
    """A child's output read line by line as it comes, kept whole for the end."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self._stream = proc.stdout
        self.lines: list[str] = []
        self._fresh: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)
            self._fresh.put(line)
        self._fresh.put(None)  # end of output

    def wait_for(self, pattern: str, timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no line matching {pattern!r}: {''.join(self.lines)}"
            try:
                line = self._fresh.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"ended without {pattern!r}: {''.join(self.lines)}"
            found = re.search(pattern, line)
            if found:
                return found

    def close(self) -> str:
        """Everything printed (the child has ended)."""
        self._reader.join(timeout=30)
        self._stream.close()
        return "".join(self.lines)


def test_workers_that_join_late_or_leave_change_the_split_not_the_offered_load(
    tmp_path: Path,
) -> None:
    rate, duration = 40, 10
    path = tmp_path / "churn.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "churn",
                "duration_s": duration,
                "population": SMALL_POPULATION,
                "load": {
                    "model": "arrival-rate",
                    "max_users": 40,
                    "stages": [{"until_s": duration, "rate": rate}],
                },
                "client": {"timeout_s": 5, "retry": "none"},
            }
        )
    )
    out = tmp_path / "out"
    paystorm = [sys.executable, "-m", "paystorm"]
    # No port given: the run chooses the master's and says which, for the workers to join.
    run = subprocess.Popen(
        [*paystorm, "run", str(path), "--out", str(out), "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    printed = Output(run)
    first: subprocess.Popen[bytes] | None = None
    second: subprocess.Popen[bytes] | None = None
    try:
        port = int(printed.wait_for(r"paystorm worker .*--master-port (\d+)", 60).group(1))
        assert 0 < port < 65536
        worker = [*paystorm, "worker", "--master-port", str(port)]
        first = subprocess.Popen(worker, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_until(out, 3, run)
        second = subprocess.Popen(worker, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_until(out, 6.5, run)
        first.send_signal(signal.SIGINT)  # it leaves; the second carries on alone
        run.wait(timeout=150)
    finally:
        for proc in (run, first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
            if proc is not None:
                proc.wait()
        output = printed.close()
    assert run.returncode in (0, 1), output
    (run_dir,) = out.iterdir()
    rows = list(csv.DictReader((run_dir / "outcomes.csv").read_text().splitlines()))
    offered = [int(r["offered"]) for r in rows][:duration]
    # Each second still offered the rate: the arrivals were split anew each time, and what
    # the leaver took with it counts as dropped, not as never offered. (The payments it had
    # in flight when it left are the only ones that may be missing.)
    assert all(rate - 3 <= o <= rate for o in offered), offered
    assert sum(offered) >= rate * duration - 3
    lines = [json.loads(x) for x in (run_dir / "payments.jsonl").read_text().splitlines()]
    assert len({p["key"] for p in lines}) == len(lines)
    assert len({p["key"][:-32] for p in lines}) == 2  # both workers served


def test_workers_and_masters_off_this_machine_need_allow_remote(tmp_path: Path) -> None:
    paystorm = [sys.executable, "-m", "paystorm"]
    for argv in (
        [*paystorm, "worker", "--master-host", "10.1.2.3", "--master-port", "5557"],
        [*paystorm, "run", "steady", "--workers", "1", "--master-bind", "10.1.2.3"],
        [*paystorm, "run", "steady", "--processes", "2", "--workers", "1"],
    ):
        done = subprocess.run(
            [*argv, "--out", str(tmp_path)] if "run" in argv else argv,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        lines = (done.stdout + done.stderr).strip().splitlines()
        assert done.returncode == 2, lines
        assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert not list(tmp_path.iterdir())  # refused before any run folder was made

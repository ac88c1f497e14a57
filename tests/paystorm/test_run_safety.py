"""`paystorm run` leaves nothing behind, however it ends: Ctrl-C mid-run, SIGTERM, a guard
abort, Locust dying under it, or its own hard time cap. Afterwards no process it started is
alive, the gateway's port is closed, no database, journal or lock file is left, and the admin
token is in no file of the results folder and nowhere in what the runner printed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract.admin import TOKEN_ENV
from paystorm.runner import RunOptions, execute

LONG: dict[str, Any] = {
    "name": "long",
    "description": "Steady shoppers for longer than any test waits.",
    "duration_s": 120,
    "population": {"accounts": 300, "merchants": 20},
    "load": {
        "model": "users",
        "think_time_s": [0.05, 0.2],
        "spawn_rate": 100,
        "stages": [{"until_s": 120, "users": 4}],
    },
    "client": {"timeout_s": 2, "retry": "none"},
}
# Every payment fails from the first second: the guard stops the run after two seconds of it.
FAILING: dict[str, Any] = {
    **LONG,
    "name": "failing",
    "faults": [
        {
            "kind": "error",
            "params": {"code": "CHANNEL_UNAVAILABLE", "rate": 1},
            "target": {"route": "pay"},
        }
    ],
    "guard": {"min_success_rate": 0.5, "for_s": 2},  # and no objectives at all
}
LEFTOVERS = ("*.db", "*.db-*", "*-journal", "*-wal", "*-shm", "*.lock", ".*.tmp")
START_TIMEOUT_S = 90.0


def _children(pid: int) -> set[int]:
    """Every living descendant of `pid`, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _poll(what: str, deadline: float) -> Iterator[None]:
    """Yield until the caller stops asking; fail at the deadline."""
    while True:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        yield
        time.sleep(0.1)  # polling another process's files and /proc


@dataclass
class Run:
    proc: subprocess.Popen[str]
    out: Path
    tmpdir: Path

    @property
    def run_dir(self) -> Path:
        (run_dir,) = self.out.iterdir()
        return run_dir


def _start(
    tmp_path: Path,
    scenario: dict[str, Any],
    *args: str,
    entry: tuple[str, ...] = ("-m", "paystorm"),
    preexec_fn: Callable[[], object] | None = None,
) -> Run:
    path = tmp_path / f"{scenario['name']}.yaml"
    path.write_text(yaml.safe_dump(scenario))
    tmpdir = tmp_path / "tmp"  # the runner's database folder goes here
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    proc = subprocess.Popen(
        [sys.executable, *entry, "run", str(path), "--out", str(tmp_path / "out"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "TMPDIR": str(tmpdir)},
        preexec_fn=preexec_fn,
    )
    return Run(proc, tmp_path / "out", tmpdir)


@dataclass
class Seen:
    children: set[int]
    port: int
    token: str


def _under_load(run: Run) -> Seen:
    """Wait until the gateway has answered payments; then what the run has started."""
    deadline = time.monotonic() + START_TIMEOUT_S
    url = ""
    for _ in _poll("payments to reach the gateway", deadline):
        assert run.proc.poll() is None, run.proc.communicate()
        if not run.out.exists() or not any(run.out.iterdir()):
            continue
        log = run.run_dir / "gateway.log"
        url = next(
            (line.split("listening on ", 1)[1] for line in _lines(log) if "listening on" in line),
            "",
        )
        if url and _payments_answered(url):
            break
    children = _children(run.proc.pid)
    (gateway,) = [pid for pid in children if "-m mock_gateway" in _cmdline(pid)]
    assert [pid for pid in children if "-m locust" in _cmdline(pid)], "no Locust process"
    return Seen(children, int(url.rsplit(":", 1)[1]), _environ(gateway)[TOKEN_ENV])


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()
    except OSError:
        return []


def _payments_answered(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return False
    return 'route="/v1/payments"' in text


def _ended(run: Run) -> None:
    """After a failed assertion too: no runner left, its pipes closed."""
    if run.proc.poll() is None:
        run.proc.kill()
    if run.proc.stdout is not None and not run.proc.stdout.closed:
        run.proc.communicate(timeout=60)


def _finished(run: Run) -> tuple[int, str, str]:
    stdout, stderr = run.proc.communicate(timeout=120)
    return run.proc.returncode, stdout, stderr


def _nothing_left(run: Run, seen: Seen, printed: str) -> dict[str, Any]:
    alive = [(pid, _cmdline(pid)) for pid in seen.children if _alive(pid)]
    assert not alive, alive
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", seen.port))
    assert list(run.tmpdir.iterdir()) == [], "the run's database folder is left"
    for pattern in LEFTOVERS:
        assert not list(run.run_dir.rglob(pattern)), pattern
    assert len(seen.token) >= 20
    for file in run.run_dir.rglob("*"):
        if file.is_file():
            assert seen.token.encode() not in file.read_bytes(), file
    assert seen.token not in printed
    info: dict[str, Any] = json.loads((run.run_dir / "run.json").read_text())
    return info


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_run_stops_everything_and_keeps_the_results(
    tmp_path: Path, sig: signal.Signals
) -> None:
    run = _start(tmp_path, LONG)
    try:
        seen = _under_load(run)
        run.proc.send_signal(sig)
        code, stdout, stderr = _finished(run)
    finally:
        _ended(run)
    printed = stdout + stderr
    assert code == 130, printed
    assert "Traceback" not in printed, printed
    info = _nothing_left(run, seen, printed)
    assert info["stop_reason"] == "interrupted"
    assert (run.run_dir / "report.html").is_file()  # what was measured is kept


def _sigint_ignored() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_a_runner_started_as_a_background_job_still_keeps_its_results(tmp_path: Path) -> None:
    """`paystorm run x &` in a script: the shell starts it with SIGINT ignored, which its
    children inherit. SIGTERM still stops it with Locust's results written: the runner stops
    Locust with SIGINT, which must not be ignored there."""
    run = _start(tmp_path, LONG, preexec_fn=_sigint_ignored)
    try:
        seen = _under_load(run)
        run.proc.send_signal(signal.SIGTERM)
        code, stdout, stderr = _finished(run)
    finally:
        _ended(run)
    printed = stdout + stderr
    assert code == 130, printed
    info = _nothing_left(run, seen, printed)
    assert info["stop_reason"] == "interrupted"
    assert info["locust_exit_code"] == 0, info
    assert (run.run_dir / "report.html").is_file()


def test_a_guard_abort_stops_everything(tmp_path: Path) -> None:
    run = _start(tmp_path, FAILING)
    try:
        seen = _under_load(run)
        code, stdout, stderr = _finished(run)
    finally:
        _ended(run)
    printed = stdout + stderr
    # The run worked, and the guard's stop is a failure even with no objectives to fail.
    assert code == 1, printed
    assert "stopped by the guard: success rate below 50%" in printed
    info = _nothing_left(run, seen, printed)
    assert info["stop_reason"] == "guard"
    assert info["duration_s"] < LONG["duration_s"]


def test_locust_dying_mid_run_is_an_error_that_stops_the_gateway(tmp_path: Path) -> None:
    run = _start(tmp_path, LONG)
    try:
        seen = _under_load(run)
        (locust,) = [pid for pid in seen.children if "-m locust" in _cmdline(pid)]
        os.kill(locust, signal.SIGKILL)
        code, stdout, stderr = _finished(run)
    finally:
        _ended(run)
    assert code == 2, stdout + stderr
    (line,) = stderr.strip().splitlines()
    assert line.startswith("paystorm run: Locust wrote no outcomes"), stderr
    info = _nothing_left(run, seen, stdout + stderr)
    assert info["stop_reason"] == "error"
    assert info["stop_detail"] in line


def test_the_hard_time_cap_ends_a_run_that_would_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(LONG))
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again

    outcome = execute(RunOptions(scenario=str(path), out=tmp_path / "out", time_cap_s=8))

    assert outcome.stop_reason == "time_cap"
    run = json.loads((outcome.run_dir / "run.json").read_text())
    assert "hard cap of 8 s" in run["stop_detail"]
    assert run["duration_s"] < LONG["duration_s"]  # stopped before the scenario's own end
    assert [pid for pid in _children(os.getpid()) if str(tmp_path) in _cmdline(pid)] == []
    assert list(tmpdir.iterdir()) == []

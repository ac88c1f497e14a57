"""`paystorm run` and `paystorm ui` killed with SIGKILL (a CI system ending a job that
overran) leave nothing running: the gateway, Locust and the workers Locust forked end within
seconds and their ports close, by either of the two means on its own (the lifeline pipe, the
parent-death signal). The temporary folder a dead runner could not remove is removed by the
next run or UI; a folder whose owner lives, or that is nobody's, is never touched."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

from paystorm.processes import OWNER_LOCK
from tests.paystorm.runs import SMALL_POPULATION
from tests.paystorm.test_run_distributed import Output
from tests.paystorm.test_run_safety import (
    LONG,
    _alive,
    _children,
    _cmdline,
    _ended,
    _payments_answered,
    _poll,
    _start,
    _under_load,
)

GONE_WITHIN_S = 5.0
START_TIMEOUT_S = 60.0
ORPHANED = "the process that started it is gone"  # what the gateway logs on its lifeline's end
# `paystorm run` with one of the two means switched off in the runner.
ONLY = {
    "lifeline": "lifeline.command = lambda sig, argv: argv",  # no parent-death signal armed
    "signal": "lifeline.LIFELINE_ENV = 'PAYSTORM_NO_LIFELINE'",  # no child finds its lifeline
}


def _entry(only: str | None) -> tuple[str, ...]:
    if only is None:
        return ("-m", "paystorm")
    code = "\n".join(
        [
            "import sys",
            "from contract import lifeline",
            ONLY[only],
            "from paystorm.cli import main",
            "sys.exit(main(sys.argv[1:]))",
        ]
    )
    return ("-c", code)


def _gone(pids: set[int], ports: Iterable[int]) -> None:
    """Every process of `pids` ends and every port refuses within GONE_WITHIN_S of now."""
    killed = time.monotonic()
    for _ in _poll("the children to end", killed + GONE_WITHIN_S):
        if not any(_alive(pid) for pid in pids):
            break
    print(f"children gone {time.monotonic() - killed:.3f} s after SIGKILL")  # shown with -s
    for port in ports:
        with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
            probe.connect(("127.0.0.1", port))


def _kill_leftovers(tmp_path: Path) -> list[str]:
    """A failed test must leave nothing running either: whatever has the test's folder in its
    command line or as its working directory is killed. What was found, for the message."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            cwd = ""
        cmdline = _cmdline(pid)
        if pid != os.getpid() and (str(tmp_path) in cmdline or cwd.startswith(str(tmp_path))):
            found.append(cmdline)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return found


@pytest.mark.parametrize(
    ("args", "only"),
    [
        ((), None),
        (("--processes", "2"), None),
        (("--processes", "2"), "lifeline"),
        (("--processes", "2"), "signal"),
    ],
    ids=["one-locust", "locust-workers", "workers-lifeline-only", "workers-signal-only"],
)
def test_kill_9_of_the_runner_ends_every_child_it_started(
    tmp_path: Path, args: tuple[str, ...], only: str | None
) -> None:
    scenario = {**LONG, "population": SMALL_POPULATION}
    run = _start(tmp_path, scenario, *args, entry=_entry(only))
    try:
        seen = _under_load(run)
        ports = [seen.port]
        if args:
            locusts = sorted(pid for pid in seen.children if "-m locust" in _cmdline(pid))
            assert len(locusts) == 3, [_cmdline(pid) for pid in seen.children]  # and 2 workers
            master = re.search(r"--master-bind-port (\d+)", _cmdline(locusts[0]))
            assert master, _cmdline(locusts[0])
            ports.append(int(master.group(1)))
        run.proc.kill()
        run.proc.wait()
        _gone(seen.children, ports)
    finally:
        _ended(run)
        left = _kill_leftovers(tmp_path)
    assert left == []
    if only is not None:  # with both, whichever comes first stops the gateway
        gateway_log = (run.run_dir / "gateway.log").read_text()
        assert (ORPHANED in gateway_log) == (only == "lifeline"), gateway_log
    # The ledger's folder stays, its owner gone: the next run's to sweep.
    (scratch,) = run.tmpdir.iterdir()
    assert scratch.name.startswith("paystorm-run-")
    assert (scratch / OWNER_LOCK).is_file()


def test_kill_9_of_the_ui_ends_the_gateway_and_locust(tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    (orphan,) = _temp_folders(tmpdir, "paystorm-run-")  # a killed run's, for the UI to sweep
    proc = subprocess.Popen(
        [sys.executable, "-m", "paystorm", "ui", "--web-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "TMPDIR": str(tmpdir)},
    )
    printed = Output(proc)
    try:
        ui = printed.wait_for(r"Locust web UI on (http://127\.0\.0\.1:\d+) ", START_TIMEOUT_S)[1]
        gateway = printed.wait_for(r"gateway (http://127\.0\.0\.1:\d+)$", 5)[1]
        form = f"scenario=steady&host={gateway}".encode()
        with urllib.request.urlopen(f"{ui}/swarm", data=form, timeout=10) as answer:
            started = answer.read().decode()
        assert '"success": true' in started, started
        for _ in _poll("payments to reach the gateway", time.monotonic() + START_TIMEOUT_S):
            if _payments_answered(gateway):
                break
        children = _children(proc.pid)
        assert len(children) == 2, [_cmdline(pid) for pid in children]
        proc.kill()
        proc.wait()
        _gone(children, [int(url.rsplit(":", 1)[1]) for url in (ui, gateway)])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        printed.close()
        left = _kill_leftovers(tmp_path)
    assert left == []
    assert not orphan.exists()
    (scratch,) = tmpdir.iterdir()
    assert scratch.name.startswith("paystorm-ui-")


def _temp_folders(tmpdir: Path, *prefixes: str) -> list[Path]:
    """Temporary folders as a run or UI makes them, left by an owner killed with SIGKILL."""
    code = "\n".join(
        [
            "import os, signal, sys",
            "from paystorm.processes import TempFolder",
            "for prefix in sys.argv[1:]:",
            "    print(TempFolder(prefix).path, flush=True)",
            "os.kill(os.getpid(), signal.SIGKILL)",
        ]
    )
    made = subprocess.run(
        [sys.executable, "-c", code, *prefixes],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(tmpdir)},
        timeout=30,
        check=False,
    )
    assert made.returncode == -signal.SIGKILL, made.stderr
    return [Path(line) for line in made.stdout.splitlines()]


def test_a_later_run_sweeps_folders_whose_owner_died_and_keeps_the_others(
    tmp_path: Path,
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    live = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from paystorm.processes import TempFolder\n"
            "folder = TempFolder('paystorm-ui-')\n"
            "print(folder.path, flush=True)\n"
            "sys.stdin.read()  # lives until the test lets it go\n"
            "folder.remove()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmpdir)},
    )
    try:
        assert live.stdout is not None
        held = Path(live.stdout.readline().strip())
        orphans = _temp_folders(tmpdir, "paystorm-run-", "paystorm-ui-")
        # Nobody's: an older paystorm's folder, or one whose owner has not marked it yet.
        unmarked = tmpdir / "paystorm-run-unmarked"
        unmarked.mkdir()
        assert held.is_dir() and all(folder.is_dir() for folder in orphans)
        short = {**LONG, "name": "short", "duration_s": 2, "population": SMALL_POPULATION}
        short["load"] = {**LONG["load"], "stages": [{"until_s": 2, "users": 2}]}
        scenario = tmp_path / "short.yaml"
        scenario.write_text(yaml.safe_dump(short))
        run = subprocess.run(
            [sys.executable, "-m", "paystorm", "run", str(scenario), "--out", str(tmp_path)],
            capture_output=True,
            text=True,
            env={**os.environ, "TMPDIR": str(tmpdir)},
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        # The run removed its own folder, and only the dead owners' before it.
        assert sorted(tmpdir.iterdir()) == sorted([held, unmarked])
    finally:
        live.communicate(input="", timeout=30)
    assert sorted(tmpdir.iterdir()) == [unmarked]


def test_kill_9_of_paystorm_worker_ends_the_workers_it_forked(tmp_path: Path) -> None:
    # No master listens there: the workers wait for one, as they would for a late master.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    worker = ["worker", "--master-port", str(port), "--processes", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "paystorm", *worker],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        for _ in _poll("Locust to fork its workers", time.monotonic() + START_TIMEOUT_S):
            workers = _children(proc.pid)
            if len(workers) == 2:
                break
        proc.kill()
        proc.wait()
        _gone(workers, [])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        left = _kill_leftovers(tmp_path)
    assert left == []

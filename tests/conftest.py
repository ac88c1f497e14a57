"""The whole suite leaves nothing behind. Every temporary folder paystorm makes during it goes
to one folder of the session's own (TMPDIR, inherited by xdist's workers and every process a
test starts; pytest's tmp_path folders go there too). When the session ends no paystorm
folder may be left in it and no process may still mention it; a session that passes removes
it. A test that must leave something (a killed run's folder, for the next run to sweep) gives
its processes a TMPDIR of its own under its tmp_path."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

ENV = "PAYSTORM_TEST_TMPDIR"
GRACE_S = 10.0
"""Children told to stop at a test's end may still be exiting when the session ends."""


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or ENV in os.environ:
        return  # an xdist worker, or a pytest run by a test: the controller's folder holds
    folder = tempfile.mkdtemp(prefix="paystorm-suite-")
    os.environ[ENV] = os.environ["TMPDIR"] = folder
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput") or not (folder := os.environ.get(ENV)):
        return
    left, running = _leftovers(Path(folder))
    deadline = time.monotonic() + GRACE_S
    while (left or running) and time.monotonic() < deadline:
        time.sleep(0.2)  # polling other processes and the folder: nothing to wait on
        left, running = _leftovers(Path(folder))
    if left or running:
        lines = [f"the suite left {len(left)} folder(s) and {len(running)} process(es) behind:"]
        lines += [f"  folder {name}" for name in left] + [f"  process {c}" for c in running]
        if reporter := config.pluginmanager.get_plugin("terminalreporter"):
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if session.exitstatus == pytest.ExitCode.OK:
        shutil.rmtree(folder, ignore_errors=True)  # with pytest's own tmp_path folders
    elif reporter := config.pluginmanager.get_plugin("terminalreporter"):
        reporter.write_line(f"the session's temporary files are kept in {folder}")


def _leftovers(folder: Path) -> tuple[list[str], list[str]]:
    left = sorted(p.name for p in folder.glob("paystorm-*"))
    running = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            argv = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if str(folder) in argv and int(cmdline.parent.name) != os.getpid():
                running.append(argv)
    return left, running

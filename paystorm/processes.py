"""Child processes of a run: started in their own session, stopped politely, then firmly,
and never outliving the run (see contract.lifeline); the run's temporary folder, marked as
the run's while it lives, swept by a later run when it does not."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import locustfiles
from contract import lifeline, runfolder
from contract.admin import TOKEN_ENV, AdminClient, AdminError

LISTENING = "listening on "
GATEWAY_START_TIMEOUT_S = 60.0


class SetupError(RuntimeError):
    """The run could not start; the message is the one line the user sees."""


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: IO[bytes]
    lifeline: int = -1
    """The write end of the child's lifeline: open for as long as the child should live."""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, grace_s: float = 15.0) -> int:
        """Send `sig`, wait up to `grace_s`, then kill the whole process group."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # What the child started (Locust's forked workers) must not outlive it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()
        if self.lifeline >= 0:
            os.close(self.lifeline)
            self.lifeline = -1
        return self.proc.returncode


def spawn(
    name: str,
    argv: list[str],
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    echo: bool = False,
    death_signal: int = signal.SIGKILL,
) -> Child:
    """Start `argv`; it gets `death_signal` (Linux) and end of file on its lifeline when this
    process dies without stopping it. SIGKILL by default: a child with no runner has nobody
    to hand its results to."""
    log = log_path.open("wb")
    read_end, write_end = os.pipe()  # neither inherited by other children: not inheritable
    try:
        proc = subprocess.Popen(
            lifeline.command(death_signal, argv),
            stdout=None if echo else log,
            stderr=None if echo else subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {}), lifeline.LIFELINE_ENV: str(read_end)},
            cwd=cwd,
            pass_fds=(read_end,),
            start_new_session=True,  # Ctrl-C reaches the runner only; it stops the children
        )
    except BaseException:
        os.close(write_end)
        log.close()
        raise
    finally:
        os.close(read_end)
    return Child(name, proc, log, write_end)


def start_gateway(
    run_dir: Path,
    db: Path,
    token: str,
    *,
    seed: int,
    accounts: int,
    merchants: int,
    config: Path | None = None,
) -> tuple[Child, str]:
    log_path = run_dir / runfolder.GATEWAY_LOG
    child = spawn(
        "gateway",
        [
            sys.executable,
            "-m",
            "mock_gateway",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
            str(db),
            "--seed",
            str(seed),
            "--accounts",
            str(accounts),
            "--merchants",
            str(merchants),
            *(["--config", str(config)] if config is not None else []),
        ],
        log_path,
        env={TOKEN_ENV: token},
        # Orphaned, it stops as on SIGTERM: draining and committing, not cut off mid-write.
        death_signal=signal.SIGTERM,
    )
    return child, _address(child, log_path)


def start_proxy(
    run_dir: Path, upstream: str, token: str, *, allow_remote: bool = False
) -> tuple[Child, str]:
    """The fault proxy in front of `upstream` (already checked against the loopback rule),
    its chaos API behind `token`; returns it and its URL once it answers /healthz."""
    log_path = run_dir / runfolder.PROXY_LOG
    argv = [sys.executable, "-m", "fault_proxy", "--upstream", upstream]
    argv += ["--host", "127.0.0.1", "--port", "0"]
    child = spawn(
        "proxy",
        [*argv, *(["--allow-remote"] if allow_remote else [])],
        log_path,
        env={TOKEN_ENV: token},
        death_signal=signal.SIGTERM,  # orphaned, it lets its held requests go and stops
    )
    return child, _address(child, log_path)


def _address(child: Child, log_path: Path) -> str:
    """The URL `child` announces in its log, once it answers /healthz; a child that does not
    start is stopped, and the reason is one line."""
    try:
        return _announced(child, log_path)
    except BaseException:  # Ctrl-C or no start: the caller has no child to stop yet
        child.stop(signal.SIGKILL, grace_s=5)
        raise


def _announced(child: Child, log_path: Path) -> str:
    deadline = time.monotonic() + GATEWAY_START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            if LISTENING in line:
                url = line.split(LISTENING, 1)[1].split()[0]
                wait_healthy(url, deadline)
                return url
        if not child.alive():
            last = text.strip().splitlines()[-1:] or ["no output"]
            raise SetupError(f"the {child.name} exited before serving: {last[0]} (see {log_path})")
        time.sleep(0.05)  # polling the log for the address line
    raise SetupError(
        f"the {child.name} did not start within {GATEWAY_START_TIMEOUT_S:.0f} s (see {log_path})"
    )


def wait_healthy(url: str, deadline: float) -> None:
    try:
        AdminClient(url).wait_healthy(deadline)
    except AdminError as exc:
        raise SetupError(str(exc)) from None


LOCUSTFILE = Path(locustfiles.__file__).resolve().parent / "paystorm_locust.py"


def locust_command(*args: str) -> list[str]:
    """Locust with paystorm's locustfile, in this interpreter."""
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


TEMP_PREFIXES = ("paystorm-run-", "paystorm-ui-")
OWNER_LOCK = "owner.lock"


class TempFolder:
    """A folder in the system's temporary directory for the ledger and logs of one run or UI,
    held locked (flock on OWNER_LOCK) by this process: the kernel releases the lock however
    the process ends, where a pid written down could be reused by another process."""

    def __init__(self, prefix: str) -> None:
        sweep_orphans()
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        staging = self.path / f".{OWNER_LOCK}.tmp"
        self._lock = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        since = datetime.now(UTC).isoformat(timespec="seconds")
        os.write(self._lock, f"{prefix}: pid {os.getpid()} since {since}\n".encode())
        # Named only once locked: a sweep that finds the lock free knows its owner is gone.
        os.replace(staging, self.path / OWNER_LOCK)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1


def sweep_orphans(root: Path | None = None) -> list[Path]:
    """Remove the temporary folders of runs and UIs whose owner has died; what was removed."""
    root = root or Path(tempfile.gettempdir())
    return [
        folder
        for prefix in TEMP_PREFIXES
        for folder in sorted(root.glob(f"{prefix}*"))
        if _remove_if_orphaned(folder)
    ]


def _remove_if_orphaned(folder: Path) -> bool:
    try:
        if folder.is_symlink() or folder.stat().st_uid != os.getuid():
            return False
        lock = os.open(folder / OWNER_LOCK, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False  # another user's, not (yet) marked as anybody's, or gone already
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # its owner lives (or another sweep is removing it)
        shutil.rmtree(folder, ignore_errors=True)
        return True
    finally:
        os.close(lock)

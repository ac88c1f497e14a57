"""Child processes of a run: started in their own session, stopped politely, then firmly."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import locustfiles
from contract import runfolder
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
        return self.proc.returncode


def spawn(
    name: str,
    argv: list[str],
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    echo: bool = False,
) -> Child:
    log = log_path.open("wb")
    proc = subprocess.Popen(
        argv,
        stdout=None if echo else log,
        stderr=None if echo else subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        start_new_session=True,  # Ctrl-C reaches the runner only; it stops the children
    )
    return Child(name, proc, log)


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
    )
    try:
        return child, _gateway_address(child, log_path)
    except BaseException:  # Ctrl-C or no start: the caller has no child to stop yet
        child.stop(signal.SIGKILL, grace_s=5)
        raise


def _gateway_address(child: Child, log_path: Path) -> str:
    deadline = time.monotonic() + GATEWAY_START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            if LISTENING in line:
                url = line.split(LISTENING, 1)[1].strip()
                wait_healthy(url, deadline)
                return url
        if not child.alive():
            last = text.strip().splitlines()[-1:] or ["no output"]
            raise SetupError(f"the gateway exited before serving: {last[0]} (see {log_path})")
        time.sleep(0.05)  # polling the log for the address line
    raise SetupError(
        f"the gateway did not start within {GATEWAY_START_TIMEOUT_S:.0f} s (see {log_path})"
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

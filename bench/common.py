"""Helpers the benchmarks share: pinned child processes, wrk runs, medians of pairs."""

from __future__ import annotations

import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from contract.admin import AdminClient

BENCH = Path(__file__).resolve().parent
LISTENING = re.compile(r"listening on (http://\S+)")


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


def pinned(core: int) -> list[str]:
    """Prefix a command so it runs on one core (when taskset exists and the core does)."""
    if shutil.which("taskset") and core < (os.cpu_count() or 1):
        return ["taskset", "-c", str(core)]
    return []


@contextmanager
def server(argv: list[str], core: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start a server that prints `listening on URL`, wait for /healthz, yield the URL."""
    with serve(argv, core, env) as (url, _):
        yield url


@contextmanager
def serve(
    argv: list[str], core: int, env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """`server`, yielding its process id too (taskset execs the command: the same process)."""
    log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in the finally below)
    proc = subprocess.Popen(
        [*pinned(core), *argv],
        stdout=subprocess.PIPE,
        stderr=log,
        env={**os.environ, **(env or {})},
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                log.seek(0)
                raise RuntimeError(f"{argv[:4]} exited: {log.read().decode()[-500:]}")
            m = LISTENING.search(line)
            url = m.group(1) if m else None
        if url is None:
            raise RuntimeError(f"{argv[:4]} did not start")
        AdminClient(url).wait_healthy(deadline)
        yield url, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def wrk(
    url: str,
    *,
    core: int,
    seconds: int = 10,
    connections: int = 64,
    script: Path | None = BENCH / "pay.lua",
    path: str = "/v1/payments",
    env: dict[str, str] | None = None,
) -> WrkResult:
    argv = [*pinned(core), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        argv += ["-s", str(script)]
    out = subprocess.run(
        [*argv, url + path],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
        timeout=seconds + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return WrkResult(
        rps, _latency(out, "50%"), _latency(out, "99%"), int(non2xx.group(1)) if non2xx else 0
    )


def _latency(out: str, pct: str) -> float:
    m = re.search(rf"^\s+{re.escape(pct)}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if m is None:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(values: list[float]) -> float:
    return statistics.median(values)


def python() -> str:
    return sys.executable

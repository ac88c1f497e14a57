"""Helpers the benchmarks share: pinned child processes, wrk runs, medians of pairs, and the
results folder a `paystorm run` left (found, and read through the contract's names)."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.report import Section
from contract import runfolder
from contract.admin import AdminClient
from contract.columns import CODE_PREFIX
from contract.runfolder import RunFolder
from reports.model import Second
from reports.tables import read_outcomes

BENCH = Path(__file__).resolve().parent
LISTENING = re.compile(r"listening on (http://\S+)")


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int = 0
    """Requests completed in the run."""
    socket_errors: int = 0
    """Connect, read, write errors and timeouts, as wrk counts them."""


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
    done = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        rps,
        _latency(out, "50%"),
        _latency(out, "99%"),
        int(non2xx.group(1)) if non2xx else 0,
        requests=int(done.group(1)) if done else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
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


def finished_run(
    out: Path, what: str, output: str = "", needs: str = runfolder.OUTCOMES
) -> RunFolder:
    """The newest results folder `paystorm run --out OUT` left under `out`, provided it holds
    `needs` (a file the run writes once it has finished); else RuntimeError naming `what`,
    with the run's output."""
    runs = sorted(p for p in out.iterdir() if p.is_dir()) if out.exists() else []
    if not runs or not (runs[-1] / needs).exists():
        raise RuntimeError(f"{what}: the run left no {needs}:\n{output}")
    return RunFolder(runs[-1])


def seconds(folder: RunFolder) -> tuple[Second, ...]:
    """The rows of a run's outcomes.csv in time order, typed (the report's own reader)."""
    return read_outcomes(folder.outcomes)[0]


def between(rows: Iterable[Second], lo: float, hi: float) -> list[Second]:
    """The rows of the seconds `lo` <= time < `hi`."""
    return [r for r in rows if lo <= r.time < hi]


def total(rows: Iterable[Second], column: str) -> int:
    """The sum of one outcomes.csv column over `rows`: a count column, or `code_<CODE>` (0
    where the code was not seen)."""
    if column.startswith(CODE_PREFIX):
        code = column.removeprefix(CODE_PREFIX)
        return sum(r.codes.get(code, 0) for r in rows)
    return sum(int(getattr(r, column)) for r in rows)


def t0_unix(folder: RunFolder) -> float:
    """The wall-clock time of the run's second 0 (clock.json)."""
    return float(json.loads(folder.clock.read_bytes())["t0_unix"])


def print_section(
    name: str, doc: str | None, section: Callable[[bool, Path], Section], quick: str
) -> int:
    """`python -m bench.NAME [--quick] [--keep DIR]`: run one benchmark, print its block."""
    p = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=doc)
    p.add_argument("--quick", action="store_true", help=quick)
    p.add_argument("--keep", type=Path, default=None, help="keep the run folders here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="paystorm-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(section(args.quick, work).markdown())
    return 0

"""How well the arrival-rate executor holds its target: `python -m bench.arrival_rate`.

Runs `paystorm run` on generated steady arrival-rate scenarios and prints, per rate, the
offered and started rate against the target, dropped arrivals, start lateness (intended start
to actual start) and the CPU of the Locust and gateway processes.

`--gateway bench` (the default) starts the real gateway per rate with its bench profile (no
artificial service time or capacity, so the default profile's knee near 400 payments/s does
not hide the executor); `default` lets `paystorm run` start its usual embedded gateway;
`stub` answers at once (bench/stub_gateway.py), to find the load generator's own ceiling.
The gateway runs on core 0, `paystorm run` and its Locust on core 1. Not part of
`make test`: each rate takes its duration plus about ten seconds.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.common import finished_run, pinned, python, seconds, server, t0_unix, total
from contract.lines import read_lines
from contract.runfolder import RunFolder
from locustfiles.outcomes import percentile
from reports.tables import read_gateway_metrics

SAMPLE_EVERY_S = 0.5  # CPU samples of the Locust process
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
ACCOUNTS = 10_000
GATEWAY_CORE, LOCUST_CORE = 0, 1  # one core each


@dataclass(frozen=True)
class Figures:
    rate: float
    duration_s: float
    offered_error_pct: float
    started_error_pct: float
    dropped: int
    lateness_p50_ms: float
    lateness_p99_ms: float
    lateness_max_ms: float
    latency_p50_ms: float
    latency_p99_ms: float
    locust_cpu_pct: float | None
    gateway_cpu_pct: float | None
    run_dir: Path


def scenario(rate: float, duration_s: float) -> dict[str, object]:
    return {
        "name": f"bench-arrivals-{rate:g}",
        "description": f"A steady {rate:g} payments/s, to measure the arrival-rate executor.",
        "duration_s": duration_s,
        "load": {
            "model": "arrival-rate",
            "max_users": 400,
            "stages": [{"until_s": duration_s, "rate": rate}],
        },
        "population": {"accounts": ACCOUNTS},
        "client": {"timeout_s": 5, "retry": "none"},
    }


@contextmanager
def gateway(kind: str, work: Path) -> Iterator[tuple[str, str]]:
    """A fresh gateway on its own core: (its URL, its admin token)."""
    token = secrets.token_urlsafe(16)
    if kind == "stub":
        argv = [python(), "-m", "bench.stub_gateway", "0"]
    else:
        db = work / f"ledger-{time.time_ns()}.db"
        argv = [python(), "-m", "mock_gateway", "--port", "0", "--db", str(db)]
        argv += ["--accounts", str(ACCOUNTS), "--profile", kind]
    with server(argv, GATEWAY_CORE, env={"PAYSTORM_ADMIN_TOKEN": token}) as url:
        yield url, token


def quantile(sorted_values: list[float], q: float) -> float:
    """Nearest rank, as the outcome recorder computes it."""
    return percentile(sorted_values, q) if sorted_values else math.nan


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # utime + stime


def locust_child(parent: int) -> int | None:
    """The Locust process `paystorm run` started (its child whose command line runs locust)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            argv = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"locust" in argv:
            return int(stat.parent.name)
    return None


def run_once(rate: float, duration_s: float, work: Path, kind: str) -> Figures:
    if kind == "default":
        return run_paystorm(rate, duration_s, work, None)
    with gateway(kind, work) as target:
        return run_paystorm(rate, duration_s, work, target)


def run_paystorm(
    rate: float, duration_s: float, work: Path, target: tuple[str, str] | None
) -> Figures:
    path = work / f"rate-{rate:g}.yaml"
    path.write_text(yaml.safe_dump(scenario(rate, duration_s)))
    out = work / f"out-{rate:g}"
    argv = [python(), "-m", "paystorm", "run", str(path), "--out", str(out)]
    env = dict(os.environ)
    if target is not None:
        argv = [*pinned(LOCUST_CORE), *argv]  # the runner and its Locust child
        argv += ["--target", target[0]]
        env["PAYSTORM_ADMIN_TOKEN"] = target[1]
    output, samples = run_sampling_locust(argv, env, duration_s + 180)
    return figures(rate, duration_s, finished_run(out, f"rate {rate:g}", output), samples)


def run_sampling_locust(
    argv: list[str], env: dict[str, str], timeout_s: float
) -> tuple[str, list[tuple[float, float]]]:
    """Run `paystorm run …` to its end (killed after `timeout_s`): its output, and samples of
    (wall clock, CPU seconds) of the Locust process it starts."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    samples: list[tuple[float, float]] = []
    pid: int | None = None
    deadline = time.time() + timeout_s
    while proc.poll() is None and time.time() < deadline:
        pid = pid or locust_child(proc.pid)
        used = cpu_seconds(pid) if pid else None
        if used is not None:
            samples.append((time.time(), used))
        time.sleep(SAMPLE_EVERY_S)
    if proc.poll() is None:
        proc.kill()
    return proc.communicate()[0].decode(errors="replace"), samples


def figures(
    rate: float, duration_s: float, folder: RunFolder, samples: list[tuple[float, float]]
) -> Figures:
    rows = seconds(folder)
    target = rate * duration_s
    offered = total(rows, "offered")
    dropped = total(rows, "dropped")
    payments = list(read_lines(folder.payments))
    # Started: payments whose actual start (intended + lateness) fell inside the run.
    started = sum(1 for p in payments if p.start_s + (p.lateness_ms or 0.0) / 1000 < duration_s)
    lateness = sorted(p.lateness_ms for p in payments if p.lateness_ms is not None)
    latency = sorted(p.latency_ms for p in payments if p.latency_ms is not None)
    t0 = t0_unix(folder)
    return Figures(
        rate=rate,
        duration_s=duration_s,
        offered_error_pct=100 * (offered - target) / target,
        started_error_pct=100 * (started - target) / target,
        dropped=dropped,
        lateness_p50_ms=quantile(lateness, 50),
        lateness_p99_ms=quantile(lateness, 99),
        lateness_max_ms=lateness[-1] if lateness else math.nan,
        latency_p50_ms=quantile(latency, 50),
        latency_p99_ms=quantile(latency, 99),
        locust_cpu_pct=cpu_pct(samples, t0 + 1, t0 + duration_s - 0.5),
        gateway_cpu_pct=gateway_cpu_pct(folder, duration_s),
        run_dir=folder.path,
    )


def cpu_pct(samples: list[tuple[float, float]], start: float, end: float) -> float | None:
    """Percent of one core used between `start` and `end` (wall clock), from samples."""
    inside = [s for s in samples if start <= s[0] <= end]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    (t1, c1), (t2, c2) = inside[0], inside[-1]
    return 100 * (c2 - c1) / (t2 - t1)


def gateway_cpu_pct(folder: RunFolder, duration_s: float) -> float | None:
    """Percent of one core the gateway used over the run, from its sampled metrics."""
    metrics = read_gateway_metrics(folder.gateway_metrics)
    cpu = metrics.columns.get("cpu_seconds")
    if cpu is None:
        return None
    inside = [(t, c or 0.0) for t, c in zip(metrics.time, cpu, strict=True)]
    inside = [(t, c) for t, c in inside if 1 <= t <= duration_s - 1]
    if len(inside) < 2:
        return None
    (t1, c1), (t2, c2) = inside[0], inside[-1]
    if not c2:
        return None  # a target without process metrics (the stub)
    return 100 * (c2 - c1) / (t2 - t1)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} %"


def report(f: Figures) -> str:
    return (
        f"{f.rate:>6g}/s for {f.duration_s:g} s: offered error {f.offered_error_pct:+.2f} %, "
        f"started error {f.started_error_pct:+.2f} %, dropped {f.dropped}\n"
        f"        start lateness p50 {f.lateness_p50_ms:.2f} ms, p99 {f.lateness_p99_ms:.2f} ms, "
        f"max {f.lateness_max_ms:.1f} ms; latency p50 {f.latency_p50_ms:.1f} ms, "
        f"p99 {f.latency_p99_ms:.1f} ms\n"
        f"        CPU: Locust {_pct(f.locust_cpu_pct)}, gateway {_pct(f.gateway_cpu_pct)} "
        f"(of one core); results {f.run_dir}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.arrival_rate", description=__doc__)
    p.add_argument(
        "--rates",
        type=float,
        nargs="+",
        default=[1000.0, 3000.0],
        help="payments/s to try (default: 1000 3000)",
    )
    p.add_argument("--duration", type=float, default=15.0, help="seconds per rate (default 15)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="keep the results folders here (default: a temporary folder, removed)",
    )
    p.add_argument(
        "--gateway",
        choices=("bench", "default", "stub"),
        default="bench",
        help="the real gateway with its bench profile (the default), the embedded one as "
        "`paystorm run` starts it, or a stub that answers at once",
    )
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="paystorm-bench-") as tmp:
        work = args.out or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for rate in args.rates:
            print(report(run_once(rate, args.duration, work, args.gateway)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

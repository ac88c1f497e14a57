"""What our shoppers cost the load generator: `python -m bench.generator_cost`.

One Locust process on core 1, a raw stub that answers at once on core 0 (so the gateway
is never the limit), closed model, no think time. Baseline: a bare FastHttpUser posting the
same payment (bench/bare_user.py). Ours: `paystorm run` of a users-model scenario of shoppers
with the same number of users, recording every payment as a real run does. Requests per
second from each Locust's own stats, and per second of Locust's CPU (sampled from /proc), in
interleaved pairs: when the stub, not Locust, sets the pace, requests per CPU-second is what
compares the generators. The ratio of medians is the figure (target: at least 0.7)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench.arrival_rate import cpu_pct, cpu_seconds, run_sampling_locust
from bench.common import BENCH, finished_run, median, pinned, print_section, python, server
from bench.report import Row, Section
from contract import runfolder
from reports.tables import read_locust_stats

USERS = 50
DURATION_S = 20
GATEWAY_CORE, LOCUST_CORE = 0, 1
TARGET_RATIO = 0.7


def aggregated_rps(stats_csv: Path) -> float:
    """Requests/s of the Aggregated row of a Locust stats CSV."""
    for row in read_locust_stats(stats_csv):
        if row.name == "Aggregated" and row.requests_per_s is not None:
            return row.requests_per_s
    raise SystemExit(f"{stats_csv}: no Aggregated row")


Measured = tuple[float, float]  # requests/s, Locust's CPU (percent of one core)


def busy_pct(samples: list[tuple[float, float]], duration_s: int) -> float:
    """Locust's CPU over the middle of the run: from 2 s after its first sample (users
    spawned) to 1 s before its last (stopping)."""
    if not samples:
        raise SystemExit("no CPU samples of the Locust process")
    pct = cpu_pct(samples, samples[0][0] + 2, samples[0][0] + duration_s - 1)
    if pct is None:
        raise SystemExit("too few CPU samples of the Locust process")
    return pct


def bare(url: str, work: Path, duration_s: int) -> Measured:
    prefix = work / f"bare-{time.time_ns()}"
    argv = [python(), "-m", "locust", "-f", str(BENCH / "bare_user.py"), "--headless"]
    argv += ["-u", str(USERS), "-r", str(USERS), "-t", f"{duration_s}s", "--host", url]
    argv += ["--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"]
    proc = subprocess.Popen(
        [*pinned(LOCUST_CORE), *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    samples: list[tuple[float, float]] = []
    while proc.poll() is None:
        used = cpu_seconds(proc.pid)  # taskset execs locust: the same process
        if used is not None:
            samples.append((time.time(), used))
        time.sleep(0.5)
    return aggregated_rps(Path(f"{prefix}_stats.csv")), busy_pct(samples, duration_s)


def busy_shoppers(work: Path, name: str, users: int, duration_s: int) -> Path:
    """A users-model scenario of shoppers without think time: as fast as Locust can send."""
    path = work / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "description": "Shoppers without think time, to measure the load generator.",
                "duration_s": duration_s,
                "load": {
                    "model": "users",
                    "spawn_rate": users,
                    "think_time_s": [0, 0],
                    "stages": [{"until_s": duration_s, "users": users}],
                },
                "client": {"timeout_s": 5, "retry": "none"},
            }
        )
    )
    return path


def paystorm_run(path: Path, out: Path, url: str, *extra: str) -> tuple[list[str], dict[str, str]]:
    """`paystorm run` against a target whose admin token does not matter (a stub)."""
    argv = [python(), "-m", "paystorm", "run", str(path), "--out", str(out), "--target", url]
    return [*argv, *extra], {**os.environ, "PAYSTORM_ADMIN_TOKEN": "bench"}


def ours(url: str, work: Path, duration_s: int) -> Measured:
    path = busy_shoppers(work, "bench-generator", USERS, duration_s)
    out = work / f"ours-{time.time_ns()}"
    argv, env = paystorm_run(path, out, url)
    output, samples = run_sampling_locust([*pinned(LOCUST_CORE), *argv], env, duration_s + 120)
    folder = finished_run(out, "generator cost", output, needs=runfolder.LOCUST_STATS)
    return aggregated_rps(folder.locust_stats), busy_pct(samples, duration_s)


def per_cpu_s(m: Measured) -> float:
    return m[0] / (m[1] / 100)


def measure(work: Path, pairs: int, duration_s: int) -> list[tuple[Measured, Measured]]:
    argv = [python(), "-m", "bench.raw_stub", "0"]
    results = []
    with server(argv, GATEWAY_CORE) as url:
        for n in range(pairs):
            # Alternate which goes first, so a drifting machine favours neither.
            if n % 2:
                o = ours(url, work, duration_s)
                b = bare(url, work, duration_s)
            else:
                b = bare(url, work, duration_s)
                o = ours(url, work, duration_s)
            print(
                f"   pair {n + 1}: bare {b[0]:,.0f} req/s at {b[1]:.0f} % CPU, "
                f"ours {o[0]:,.0f} req/s at {o[1]:.0f} % CPU",
                flush=True,
            )
            results.append((b, o))
    return results


def section(quick: bool, work: Path) -> Section:
    started = time.monotonic()
    pairs, duration_s = (1, 10) if quick else (3, DURATION_S)
    results = measure(work, pairs, duration_s)
    b = median([per_cpu_s(r[0]) for r in results])
    o = median([per_cpu_s(r[1]) for r in results])
    b_rps = median([r[0][0] for r in results])
    o_rps = median([r[1][0] for r in results])
    ratio = o / b
    s = Section(
        name="generator_cost",
        title="Load generator: our shoppers against a bare FastHttpUser",
        conditions=(
            f"One Locust process pinned to core {LOCUST_CORE}, a raw asyncio stub "
            f"(bench/raw_stub.py: canned answers) on core {GATEWAY_CORE}; {USERS} users, "
            f"no think time, {duration_s} s per run, {pairs} interleaved pairs, medians. "
            "Baseline: bench/bare_user.py, a FastHttpUser posting the same payment body with a "
            "fresh key. Ours: `paystorm run` of a users-model scenario of shoppers (checkout "
            "page + payment, outcome recording, payments.jsonl) with `--target` the stub. "
            "Requests/s from each Locust's Aggregated stats row; Locust's CPU sampled from "
            "/proc over the run's middle; the figure is requests per Locust CPU-second, which "
            "does not depend on whether Locust or the stub set the pace."
        ),
        quick=quick,
    )
    s.rows.append(
        Row(
            figure="requests per Locust CPU-second, shoppers",
            measured=f"{o:,.0f}",
            baseline=f"bare FastHttpUser {b:,.0f}",
            ratio=ratio,
            target=f">= {TARGET_RATIO}",
            passed=ratio >= TARGET_RATIO,
        )
    )
    s.rows.append(
        Row(
            figure="requests/s per Locust process, shoppers",
            measured=f"{o_rps:,.0f} req/s",
            baseline=f"bare FastHttpUser {b_rps:,.0f} req/s",
            ratio=o_rps / b_rps,
            target="reported",
            passed=None,
        )
    )
    s.details.append(
        "Per pair, bare then ours (requests/s at Locust CPU): "
        + "; ".join(
            f"{x[0]:,.0f} at {x[1]:.0f} % / {y[0]:,.0f} at {y[1]:.0f} %" for x, y in results
        )
        + "."
    )
    s.wall_s = time.monotonic() - started
    return s


if __name__ == "__main__":
    sys.exit(print_section("generator_cost", __doc__, section, "one pair of 10 s runs"))

"""Locust's distributed mode on this machine: `python -m bench.scaling`.

The same closed-model scenario of shoppers without think time, against the raw stub
(bench/raw_stub.py, canned answers, so the target is not the limit), run by `paystorm run`
with one Locust process and with `--processes 2` (a master and two workers), in interleaved
pairs. Figures: requests/s from Locust's Aggregated stats row, and the CPU of every Locust
process (the master and its forked workers), sampled from /proc. Nothing is pinned: with two
cores, the stub and the workers share them, which is the honest limit of this machine."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.arrival_rate import cpu_seconds, locust_child
from bench.common import finished_run, median, print_section, python, server
from bench.generator_cost import aggregated_rps, busy_shoppers, paystorm_run
from bench.report import Row, Section, table
from contract import runfolder

USERS = 100
DURATION_S = 20


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def run(url: str, work: Path, processes: int, duration_s: int) -> tuple[float, list[float]]:
    """Requests/s, and each Locust process's CPU (percent of one core) over the middle."""
    path = busy_shoppers(work, "bench-scaling", USERS, duration_s)
    out = work / f"p{processes}-{time.time_ns()}"
    argv, env = paystorm_run(path, out, url, "--processes", str(processes))
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env)
    first: dict[int, tuple[float, float]] = {}
    last: dict[int, tuple[float, float]] = {}
    began = None
    while proc.poll() is None:
        time.sleep(0.5)
        master = locust_child(proc.pid)
        if master is None:
            continue
        began = began or time.time()
        elapsed = time.time() - began
        for pid in [master, *_children(master)]:
            used = cpu_seconds(pid)
            if used is None:
                continue
            if 3 <= elapsed <= duration_s - 1:  # spawned, not yet stopping
                first.setdefault(pid, (time.time(), used))
                last[pid] = (time.time(), used)
    folder = finished_run(out, f"scaling, {processes} processes", needs=runfolder.LOCUST_STATS)
    cpu = [
        100 * (last[p][1] - first[p][1]) / (last[p][0] - first[p][0])
        for p in first
        if last[p][0] > first[p][0]
    ]
    return aggregated_rps(folder.locust_stats), sorted(cpu, reverse=True)


def section(quick: bool, work: Path) -> Section:
    started = time.monotonic()
    pairs, duration_s = (1, 12) if quick else (3, DURATION_S)
    results: list[tuple[tuple[float, list[float]], tuple[float, list[float]]]] = []
    with server([python(), "-m", "bench.raw_stub", "0"], core=99) as url:  # 99: unpinned
        for n in range(pairs):
            order = (1, 2) if n % 2 == 0 else (2, 1)
            got = {p: run(url, work, p, duration_s) for p in order}
            one, two = got[1], got[2]
            print(f"   pair {n + 1}: 1 process {one[0]:,.0f} req/s, 2 {two[0]:,.0f}", flush=True)
            results.append((one, two))
    one_rps = median([r[0][0] for r in results])
    two_rps = median([r[1][0] for r in results])
    s = Section(
        name="scaling",
        title="Distributed mode: one Locust process against two workers",
        conditions=(
            f"`paystorm run --target` the raw stub (bench/raw_stub.py), a users-model scenario "
            f"of {USERS} shoppers without think time, {duration_s} s per run, {pairs} "
            "interleaved pairs, medians; `--processes 2` is a master and two forked workers. "
            "Nothing pinned: on this two-core machine the stub and the workers share the cores. "
            "CPU per Locust process sampled from /proc between the 3rd second and the last."
        ),
        quick=quick,
    )
    s.rows.append(
        Row(
            figure="requests/s, 2 worker processes",
            measured=f"{two_rps:,.0f} req/s",
            baseline=f"1 process {one_rps:,.0f} req/s",
            ratio=two_rps / one_rps,
            target="reported (2 cores shared with the target)",
            passed=None,
        )
    )
    rows = []
    for n, (one, two) in enumerate(results, 1):
        rows.append(
            [
                str(n),
                f"{one[0]:,.0f}",
                " + ".join(f"{c:.0f} %" for c in one[1]),
                f"{two[0]:,.0f}",
                " + ".join(f"{c:.0f} %" for c in two[1]),
            ]
        )
    s.details.append(
        table(["pair", "1 process req/s", "its CPU", "2 workers req/s", "CPU per process"], rows)
    )
    s.wall_s = time.monotonic() - started
    return s


if __name__ == "__main__":
    sys.exit(print_section("scaling", __doc__, section, "one pair of 12 s runs"))

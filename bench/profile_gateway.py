"""Where the gateway's CPU goes: `python -m bench.profile_gateway [--seconds 10]`.

Starts the gateway (profile bench) on core 0, drives it with wrk (bench/pay.lua, -c64) from
core 1, samples it with `py-spy record --native` meanwhile and sorts the event loop thread's
samples into the stages of a payment. Needs py-spy (`pip install py-spy`; sampling another
process may need root or CAP_SYS_PTRACE). Not part of `make bench`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.gateway_cost import drive, gateway_server

# First match wins: (what to look for in a stack, the stage it means).
STAGES = (
    ("gc_collect", "cyclic garbage collector"),
    ("PaymentService._stored", "idempotency lookup (key filter; SELECT only on a maybe)"),
    ("SimpleQueue_put", "waking the writer thread"),
    ("Writer._flush", "the batch's INSERTs and UPDATEs (on the loop)"),
    ("Writer._finished", "acknowledging a batch (futures)"),
    ("parse_payment", "parsing and validating the payment"),
    ("_peek_payment", "reading the body for fault targeting (only with a fault active)"),
    ("_through_channels", "channel routing"),
    ("PaymentService.pay", "payment decision, rows and answer"),
    ("create_payment", "handler (rest)"),
    ("observe (", "middleware (ids, faults, admission, metrics)"),
)
IDLE = "idle (waiting in epoll)"
OUTSIDE = "aiohttp and uvloop outside the gateway's code"


def stage(frames: list[str]) -> str:
    if "epoll" in frames[-1]:
        return IDLE
    stack = ";".join(frames)
    return next((name for mark, name in STAGES if mark in stack), OUTSIDE)


def breakdown(raw: Path) -> Counter[str]:
    """Samples of the event loop thread by stage, from py-spy's raw (collapsed) output."""
    stacks = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        stacks.append((stack.split(";"), int(count)))
    # The loop thread is the one that runs the middleware; the writer thread never does.
    loop_thread = Counter(f[0] for f, n in stacks if any("observe (" in x for x in f))
    if not loop_thread:
        return Counter()
    main = loop_thread.most_common(1)[0][0]
    counts: Counter[str] = Counter()
    for frames, n in stacks:
        if frames[0] == main:
            counts[stage(frames)] += n
    return counts


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile_gateway", description=__doc__)
    p.add_argument("--seconds", type=int, default=10)
    args = p.parse_args()
    pyspy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if pyspy is None:
        print("profile_gateway: py-spy not found; install it with `pip install py-spy`")
        return 2
    with tempfile.TemporaryDirectory() as tmp, gateway_server() as served:
        raw = Path(tmp) / "gateway.txt"
        seconds = str(max(1, args.seconds - 2))  # inside the load, not at its edges
        argv = [pyspy, "record", "--native", "-p", str(served[1]), "-r", "250", "-f", "raw"]
        spy = subprocess.Popen(
            [*argv, "-d", seconds, "-o", str(raw)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        driven = drive(served, args.seconds, "prof")
        spy.wait()
        counts = breakdown(raw) if raw.exists() else Counter()
    print(
        f"{driven.requests_per_s:,.0f} payments/s, {driven.cpu_us_per_request:.0f} µs of CPU "
        f"each, {driven.mean_batch:.1f} per commit"
    )
    total = sum(counts.values())
    if not total:
        print("profile_gateway: py-spy took no samples (permissions?)")
        return 1
    print(f"event loop thread, {total} samples:")
    for name, n in counts.most_common():
        print(f"  {100 * n / total:5.1f} %  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

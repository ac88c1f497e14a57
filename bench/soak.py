"""A soak: `python -m bench.soak [--minutes 30]` (`make bench-soak`).

One gateway (profile default, pinned to core 0, its ledger a real file) takes a moderate open
load for 30 minutes: 100 payments/s (a quarter of the default profile's knee), every tenth
followed by a query and every fifth captured one reversed, so that credit is released and
every write path runs. Each minute the bench records the gateway's resident memory, its open
file descriptors, the payments' p50 and p99 latency and any answer that is not 200 or a
legitimate decline. Flat means: memory and latency at the end within a margin of the first
minute after warm-up, the same file descriptors, no 5xx, and the ledger audit holding after
it all. Writes its block of bench/results.md; not part of `make bench` (it takes 30 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import python, serve
from bench.report import RESULTS, Row, Section, table, write
from mock_gateway.writer import CACHE_KIB

CACHE_MIB = CACHE_KIB / 1024  # the writer's SQLite page cache, full once the file is bigger

TOKEN = "bench-soak"
RATE = 100.0  # payments/s
ACCOUNTS = 10_000
WARM_UP_MIN = 1  # the first minute fills caches, pools and the page cache: not the baseline
RSS_GROWTH_MAX = 0.15
P99_GROWTH_MAX = 1.5
CLIENT_TIMEOUT_S = 10.0
# 200 and the legitimate declines (402: credit or limit; 403: a frozen account).
EXPECTED = (200, 402, 403)


@dataclass
class Window:
    """What one sampling interval saw."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0  # no HTTP answer at all


@dataclass(frozen=True)
class Sample:
    minute: float
    seconds: float  # the window's length; the last one may be short
    payments_per_s: float
    p50_ms: float
    p99_ms: float
    rss_mib: float
    fds: int  # files, pipes and the like: what a leak would pile up
    sockets: int  # the load's keep-alive connections: as many as its concurrency needed
    db_mib: float
    statuses: dict[int, int]
    errors: int


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _fds(pid: int) -> tuple[int, int]:
    """(descriptors other than sockets, sockets) the process holds open."""
    files = sockets = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed while we looked
        if target.startswith("socket:"):
            sockets += 1
        else:
            files += 1
    return files, sockets


def _db_mib(db: Path) -> float:
    files = [db, db.with_name(db.name + "-wal")]
    return sum(f.stat().st_size for f in files if f.exists()) / 2**20


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _one(session: aiohttp.ClientSession, url: str, n: int, window: Window) -> None:
    body = {
        "user_id": f"u{n % ACCOUNTS + 1:06d}",
        "merchant_id": f"m{n % 20 + 1:05d}",  # the 20 most popular all accept credit-pay
        "amount": 100 + n % 400,
        "currency": "CNY",
    }
    started = time.perf_counter()
    try:
        async with session.post(
            f"{url}/v1/payments", json=body, headers={"Idempotency-Key": f"soak-{n}"}
        ) as resp:
            answer = await resp.read()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError):
        window.errors += 1
        return
    window.latencies_ms.append((time.perf_counter() - started) * 1000)
    window.statuses[status] += 1
    if status != 200:
        return
    payment_id = json.loads(answer)["payment_id"]
    try:
        if n % 10 == 0:
            async with session.get(f"{url}/v1/payments/{payment_id}") as resp:
                await resp.read()
                window.statuses[resp.status] += 1
        if n % 5 == 0:
            async with session.post(f"{url}/v1/payments/{payment_id}/reverse") as resp:
                await resp.read()
                window.statuses[resp.status] += 1
    except (aiohttp.ClientError, TimeoutError):
        window.errors += 1


async def _soak(
    url: str, pid: int, db: Path, minutes: float, sample_s: float
) -> tuple[list[Sample], dict[str, Any]]:
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=500)
    samples: list[Sample] = []
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        loop = asyncio.get_running_loop()
        start = loop.time()
        end = start + minutes * 60
        next_sample = start + sample_s
        window, window_start, sent = Window(), start, 0
        pending: set[asyncio.Task[None]] = set()
        while (now := loop.time()) < end:
            if now >= next_sample:
                samples.append(_sample(window, window_start, now, start, pid, db))
                window, window_start = Window(), now
                next_sample += sample_s
            due = start + sent / RATE
            if due > now:
                await asyncio.sleep(min(due, next_sample) - now)
                continue
            task = asyncio.create_task(_one(session, url, sent, window))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
        await asyncio.gather(*pending)
        samples.append(_sample(window, window_start, loop.time(), start, pid, db))
        audit = await _settled_audit(session, url)
    return samples, audit


def _sample(window: Window, since: float, now: float, start: float, pid: int, db: Path) -> Sample:
    fds, sockets = _fds(pid)
    return Sample(
        minute=(now - start) / 60,
        seconds=now - since,
        payments_per_s=len(window.latencies_ms) / max(now - since, 1e-9),
        p50_ms=_p(window.latencies_ms, 0.50),
        p99_ms=_p(window.latencies_ms, 0.99),
        rss_mib=_rss_mib(pid),
        fds=fds,
        sockets=sockets,
        db_mib=_db_mib(db),
        statuses=dict(window.statuses),
        errors=window.errors,
    )


async def _settled_audit(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """The audit once PENDING payments (channel timeouts) have settled, at most a minute on."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    deadline = time.monotonic() + 60
    while True:
        async with session.get(f"{url}/_admin/audit", headers=headers) as resp:
            audit: dict[str, Any] = await resp.json()
        if audit.get("pending", 0) == 0 or time.monotonic() > deadline:
            return audit
        await asyncio.sleep(1)  # the gateway settles on its own schedule


def run(minutes: float, sample_s: float) -> tuple[list[Sample], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="paystorm-soak-") as tmp:
        db = Path(tmp) / "ledger.db"
        argv = [python(), "-m", "mock_gateway", "--port", "0", "--profile", "default"]
        argv += ["--db", str(db), "--admin-token", TOKEN, "--accounts", str(ACCOUNTS)]
        with serve(argv, core=0) as (url, pid):
            return asyncio.run(_soak(url, pid, db, minutes, sample_s))


def section(minutes: float, sample_s: float) -> Section:
    started = time.monotonic()
    samples, audit = run(minutes, sample_s)
    whole = [
        x
        for x in samples
        if x.seconds >= 0.9 * sample_s and x.minute > WARM_UP_MIN + sample_s / 120
    ]
    # Medians of the first and the last third of the windows after warm-up: one window with a
    # pause in it (the host is shared) is neither the baseline nor the end.
    k = max(1, len(whole) // 3)
    warm, last = _median_window(whole[:k] or samples[:1]), _median_window(whole[-k:] or samples)
    five_xx = sum(n for x in samples for code, n in x.statuses.items() if code >= 500)
    unanswered = sum(x.errors for x in samples)
    other = Counter[int]()
    for x in samples:
        other.update({c: n for c, n in x.statuses.items() if c not in EXPECTED})
    # SQLite's page cache of the writer grows with the ledger file up to its cap, by design:
    # memory is judged from the windows after the file outgrew the cap (when there are such).
    cached = [x for x in whole if x.db_mib >= CACHE_MIB]
    k_cached = max(1, len(cached) // 3)
    memory_base = _median_window(cached[:k_cached]) if len(cached) >= 3 else warm
    memory_from = (
        f"once the ledger outgrew the {CACHE_MIB:.0f} MiB page cache"
        if len(cached) >= 3
        else "after warm-up (the page cache was still filling)"
    )
    rss_ratio = last.rss_mib / memory_base.rss_mib
    p99_ratio = last.p99_ms / warm.p99_ms
    window = f"{sample_s / 60:g} min" if sample_s >= 60 else f"{sample_s:g} s"
    sec = Section(
        name="soak",
        title=f"Soak: {minutes:g} minutes at {RATE:g} payments/s",
        conditions=(
            f"`python -m bench.soak --minutes {minutes:g}`. Gateway `--profile default` on "
            f"core 0 with a file ledger, {ACCOUNTS:,} accounts; an open aiohttp load of "
            f"{RATE:g} payments/s (a quarter of the 400/s knee), a query after every tenth "
            "and a reversal of every fifth captured one; sampled every "
            f"{window}. Baseline: the median of the first third of the windows after "
            f"{WARM_UP_MIN} min of warm-up; end: the median of the last third (file "
            "descriptors: the most in either)."
        ),
        quick=minutes < 30,
        wall_s=time.monotonic() - started,
    )
    sec.rows += [
        Row(
            figure="gateway resident memory",
            measured=f"{last.rss_mib:.1f} MiB (max {max(x.rss_mib for x in samples):.1f})",
            baseline=f"{memory_from}: {memory_base.rss_mib:.1f} MiB",
            ratio=rss_ratio,
            target=f"flat: ratio ≤ {1 + RSS_GROWTH_MAX:.2f}",
            passed=rss_ratio <= 1 + RSS_GROWTH_MAX,
        ),
        Row(
            figure="gateway open file descriptors (sockets aside)",
            measured=f"{last.fds} (max {max(x.fds for x in samples)}); sockets {last.sockets} "
            f"(max {max(x.sockets for x in samples)}, the load's connections)",
            baseline=f"after warm-up: {warm.fds}",
            ratio=last.fds / warm.fds,
            target="no growth (± 2)",
            passed=abs(last.fds - warm.fds) <= 2,
        ),
        Row(
            figure="payment latency p99",
            measured=f"{last.p99_ms:.0f} ms (p50 {last.p50_ms:.0f} ms)",
            baseline=f"after warm-up: {warm.p99_ms:.0f} ms (p50 {warm.p50_ms:.0f} ms)",
            ratio=p99_ratio,
            target=f"flat: ratio ≤ {P99_GROWTH_MAX:g}",
            passed=p99_ratio <= P99_GROWTH_MAX,
        ),
        Row(
            figure="5xx answers, and requests with no answer",
            measured=f"{five_xx:,} and {unanswered:,}",
            baseline=f"{sum(sum(x.statuses.values()) for x in samples):,} answers",
            ratio=None,
            target="0 and 0",
            passed=five_xx == 0 and unanswered == 0,
        ),
        Row(
            figure="ledger audit after the soak",
            measured="every invariant holds" if audit.get("ok") else _failed_checks(audit),
            baseline=f"{audit.get('pending', '?')} payments pending",
            ratio=None,
            target="holds, none pending",
            passed=bool(audit.get("ok")) and audit.get("pending") == 0,
        ),
    ]
    rows = [
        [
            f"{x.minute:.1f}",
            f"{x.payments_per_s:.0f}",
            f"{x.p50_ms:.0f} ms",
            f"{x.p99_ms:.0f} ms",
            f"{x.rss_mib:.1f} MiB",
            f"{x.fds} + {x.sockets} sockets",
            f"{x.db_mib:.1f} MiB",
            ", ".join(f"{c}: {n}" for c, n in sorted(x.statuses.items()) if c not in (200,)),
        ]
        for x in samples
    ]
    sec.details.append(
        table(
            ["minute", "payments/s", "p50", "p99", "RSS", "fds", "ledger file", "other answers"],
            rows,
        )
    )
    if other:
        sec.details.append(
            "Answers other than 200 and the legitimate declines (402, 403): "
            + ", ".join(f"{code}: {n:,}" for code, n in sorted(other.items()))
            + "."
        )
    sec.details.append("The ledger file grows with the payments it holds: data, not a leak.")
    return sec


def _median_window(windows: list[Sample]) -> Sample:
    """A window whose figures are the medians of these windows' (fds: the largest)."""
    return Sample(
        minute=windows[-1].minute,
        seconds=sum(x.seconds for x in windows),
        payments_per_s=statistics.median(x.payments_per_s for x in windows),
        p50_ms=statistics.median(x.p50_ms for x in windows),
        p99_ms=statistics.median(x.p99_ms for x in windows),
        rss_mib=statistics.median(x.rss_mib for x in windows),
        fds=max(x.fds for x in windows),
        sockets=max(x.sockets for x in windows),
        db_mib=windows[-1].db_mib,
        statuses={},
        errors=0,
    )


def _failed_checks(audit: dict[str, Any]) -> str:
    checks = audit.get("checks", {})
    failed = [name for name, check in checks.items() if not check.get("ok")]
    return "failed: " + (", ".join(failed) or str(audit.get("error", "no answer")))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--minutes", type=float, default=30.0, help="how long (default 30)")
    p.add_argument("--sample-s", type=float, default=60.0, help="seconds per sample (default 60)")
    p.add_argument(
        "--results", type=Path, default=RESULTS, help=f"the file to write (default {RESULTS})"
    )
    args = p.parse_args(argv)
    if args.minutes <= 0 or args.sample_s <= 0:
        p.error("--minutes and --sample-s must be above 0")
    section_ = section(args.minutes, args.sample_s)
    write([section_], args.results)
    for row in section_.rows:
        ratio = "" if row.ratio is None else f", ratio {row.ratio:.3f}"
        print(f"   {row.verdict:4} {row.figure}: {row.measured}{ratio}", flush=True)
    missed = [r.figure for r in section_.rows if r.passed is False]
    print(f"wrote {args.results}; " + (f"missed: {'; '.join(missed)}" if missed else "flat"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

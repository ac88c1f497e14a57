"""Does the gateway slow down or swell as its ledger grows? `python -m bench.growth`
(`make bench-growth`; about 8 minutes, not part of `make bench`).

- throughput with 1,000 versus 1,000,000 seeded accounts, and on a ledger that already holds
  10,000,000 payments (with their idempotency records) versus a new one: each server on core
  0, wrk (bench/pay.lua, -c64, keys spread over every account) on core 1, in rounds, in a
  rotating order; ratios per round, then medians;
- the gateway's resident memory while a million payments go through it.

The big ledgers are made with SQL, not through the API: 1,000 accounts seeded by the
gateway's own seeding (Faker), the rest inserted by a recursive query with used credit 0 (so
the ledger needs no entries for them), and the historic payments as SUCCEEDED rows with a
stored answer of typical size under keys no run uses. They have no ledger entries, so the
audit is not run on these files: only the tables a payment reads and writes by key matter
here (the ledger table is append-only and never read on the payment path).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import median
from bench.gateway_cost import Driven, Served, drive, gateway_server, ledger_counters
from bench.report import Row, Section, table
from mock_gateway import store
from mock_gateway.seed import seed_database

FLAT_MIN = 0.9  # a bigger ledger may cost at most 10 % of the throughput
RSS_MAX_MIB = 256
FAKER_ACCOUNTS = 1_000  # seeded the gateway's own way; more are added with SQL
HISTORIC_BODY_BYTES = 330  # the size of a stored 200 answer of a payment


@dataclass(frozen=True)
class Ledger:
    name: str
    path: Path
    accounts: int


def make_ledger(path: Path, accounts: int, payments: int = 0) -> Path:
    """A ledger file the gateway opens as already seeded, with `accounts` accounts and
    `payments` historic payments."""
    conn = sqlite3.connect(path, isolation_level=None)
    with closing(conn):
        # A throwaway build: no journal, no fsync; the gateway turns WAL on when it opens it.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # KiB: 256 MiB, the indexes stay in memory
        store.create_schema(conn)
        seeded = min(accounts, FAKER_ACCOUNTS)
        seed_database(conn, seed=1, n_accounts=seeded, n_merchants=500)
        conn.execute("BEGIN")
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO accounts SELECT printf('u%06d', i), 'bench ' || i, 1000000, 0, "
            "500000, 'ACTIVE' FROM n",
            (seeded + 1, accounts),
        )
        conn.execute("UPDATE meta SET value = ? WHERE key = 'accounts'", (str(accounts),))
        conn.execute("COMMIT")
        if payments:
            # Ids and keys in ascending order: each insert appends to its index, so ten
            # million take about a minute instead of ten.
            conn.execute("BEGIN")
            conn.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                "INSERT INTO payments SELECT printf('pay_hist%010d', i), "
                "printf('hist-%010d', i), printf('u%06d', i % ? + 1), printf('m%05d', i % 20 + 1), "
                "100 + i % 900, 'CNY', NULL, 'SUCCEEDED', 0, 'bank_a', NULL, "
                "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z' FROM n",
                (payments, accounts),
            )
            conn.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                "INSERT INTO idempotency SELECT 'pay', printf('hist-%010d', i), zeroblob(32), "
                "printf('pay_hist%010d', i), 200, zeroblob(?), '2026-01-01T00:00:00.000Z' "
                "FROM n",
                (payments, HISTORIC_BODY_BYTES),
            )
            conn.execute("COMMIT")
    return path


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass(frozen=True)
class MemoryPoint:
    payments: int
    rss_mib: float


def memory_run(total: int, step_s: int) -> list[MemoryPoint]:
    """Drive a new gateway (10,000 accounts) until `total` payments are committed, reading
    its resident memory after each step."""
    points: list[MemoryPoint] = []
    with gateway_server() as served:
        url, pid = served
        points.append(MemoryPoint(0, rss_mib(pid)))
        step = 0
        while points[-1].payments < total:
            drive(served, step_s, f"mem{step}")
            step += 1
            points.append(MemoryPoint(int(ledger_counters(url)["writes"]), rss_mib(pid)))
            print(
                f"   {points[-1].payments:,} payments: RSS {points[-1].rss_mib:.0f} MiB", flush=True
            )
    return points


@contextmanager
def _on(ledger: Ledger) -> Iterator[Served]:
    with gateway_server(db=ledger.path) as served:
        yield served


def throughput_rounds(ledgers: list[Ledger], rounds: int, seconds: int) -> list[dict[str, Driven]]:
    results = []
    for n in range(rounds):
        order = ledgers[n % len(ledgers) :] + ledgers[: n % len(ledgers)]
        got: dict[str, Driven] = {}
        for ledger in order:
            with _on(ledger) as served:
                got[ledger.name] = drive(
                    served, seconds, f"gr{n}{ledger.name[:4]}", accounts=ledger.accounts
                )
        results.append(got)
        print(
            f"round {n + 1}: "
            + ", ".join(f"{k} {v.requests_per_s:,.0f}/s" for k, v in got.items()),
            flush=True,
        )
    return results


def section(quick: bool, work: Path) -> Section:
    started = time.monotonic()
    rounds, seconds = (1, 5) if quick else (3, 10)
    historic = 1_000_000 if quick else 10_000_000
    memory_total, step_s = (200_000, 10) if quick else (1_000_000, 20)
    few, many = "1,000 accounts", "1,000,000 accounts"
    new, big = "new ledger", f"{historic:,} payments"
    built = time.monotonic()
    ledgers = [
        Ledger(few, make_ledger(work / "few.db", 1_000), 1_000),
        Ledger(many, make_ledger(work / "many.db", 1_000_000), 1_000_000),
        Ledger(new, make_ledger(work / "new.db", 10_000), 10_000),
        Ledger(big, make_ledger(work / "big.db", 10_000, historic), 10_000),
    ]
    build_s = time.monotonic() - built
    size_gib = (work / "big.db").stat().st_size / 2**30
    print(f"   ledgers built in {build_s:.0f} s ({big}: {size_gib:.1f} GiB)", flush=True)
    results = throughput_rounds(ledgers, rounds, seconds)
    for ledger in ledgers:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{ledger.path}{suffix}").unlink(missing_ok=True)
    points = memory_run(memory_total, step_s)

    def ratios(num: str, den: str) -> list[float]:
        return [r[num].requests_per_s / r[den].requests_per_s for r in results]

    def rps(name: str) -> float:
        return median([r[name].requests_per_s for r in results])

    accounts_ratio = median(ratios(many, few))
    payments_ratio = median(ratios(big, new))
    first = next((p for p in points if p.payments >= memory_total // 10), points[0])
    last = points[-1]
    s = Section(
        name="growth",
        title="Growth: accounts, a big payments table, memory",
        conditions=(
            f"Profile bench; each server on core 0, wrk -t1 -c64 -d{seconds}s with bench/pay.lua "
            f"on core 1, its users spread over every account of the ledger; {rounds} round(s) "
            f"of the four ledgers in a rotating order; ratios per round, then medians. The big "
            f"ledgers are built with SQL (bench/growth.py says how) in {build_s:.0f} s; the one "
            f"with {big} is {size_gib:.1f} GiB. Memory: a new gateway (10,000 accounts) driven "
            f"the same way in {step_s} s steps until {memory_total:,} payments were committed; "
            "RSS from /proc."
        ),
        quick=quick,
    )
    s.rows += [
        Row(
            figure="throughput, 1,000,000 accounts / 1,000 accounts",
            measured=f"{rps(many):,.0f}/s",
            baseline=f"1,000 accounts: {rps(few):,.0f}/s",
            ratio=accounts_ratio,
            target=f"flat (ratio ≥ {FLAT_MIN})",
            passed=accounts_ratio >= FLAT_MIN,
        ),
        Row(
            figure=f"throughput, {big} already in the ledger / a new ledger",
            measured=f"{rps(big):,.0f}/s",
            baseline=f"new ledger: {rps(new):,.0f}/s",
            ratio=payments_ratio,
            target=f"flat (ratio ≥ {FLAT_MIN})",
            passed=payments_ratio >= FLAT_MIN,
        ),
        Row(
            figure=f"gateway RSS after {last.payments:,} payments",
            measured=f"{last.rss_mib:.0f} MiB",
            baseline=f"after {first.payments:,}: {first.rss_mib:.0f} MiB",
            ratio=last.rss_mib / first.rss_mib,
            target=f"< {RSS_MAX_MIB} MiB",
            passed=last.rss_mib < RSS_MAX_MIB,
        ),
    ]
    s.details.append(
        table(
            ["round", *(f"{ledger.name} /s" for ledger in ledgers)],
            [
                [str(i + 1), *(f"{r[ledger.name].requests_per_s:,.0f}" for ledger in ledgers)]
                for i, r in enumerate(results)
            ],
        )
    )
    s.details.append(
        table(
            ["ledger (medians)", "p99", "CPU per payment"],
            [
                [
                    ledger.name,
                    f"{median([r[ledger.name].wrk.p99_ms for r in results]):.1f} ms",
                    f"{median([r[ledger.name].cpu_us_per_request for r in results]):.0f} µs",
                ]
                for ledger in ledgers
            ],
        )
    )
    s.details.append(
        "RSS by payments committed: "
        + ", ".join(f"{p.payments:,}: {p.rss_mib:.0f} MiB" for p in points)
        + "."
    )
    s.wall_s = time.monotonic() - started
    return s


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="paystorm-growth-") as tmp:
        s = section(args.quick, Path(tmp))
    print(s.markdown())


if __name__ == "__main__":
    main()

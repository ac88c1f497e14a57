"""How exactly a `latency` fault delays requests: `python -m bench.latency_fault`.

One gateway (profile bench, pinned to core 0); an aiohttp client at low concurrency sends
GET /v1/accounts/… in interleaved rounds: no fault, then `latency` 200 ms fixed, then 200 ms
± 50 normal (the fault added before the round and removed after it). The added delay is the
median latency of all a condition's requests minus that of all the no-fault ones, held to
200 ms ± 5 % (10 ms).

The gateway draws normal delays from `random.Random(--seed)` in request order, so the same
seed gives the same 300 delays every run, and their sample median is not 200 ms exactly
(sd of a 300-sample median ≈ 1.25 * 50 / √300 ≈ 3.6 ms). The bench replays those draws
(`Latency.delay_s` on `random.Random(SEED)`) to split the gateway's own error (measured
minus drawn) from that sampling luck.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import python, server
from bench.report import Row, Section, table
from faults.kinds.latency import Latency

TOKEN = "bench-latency"
SEED = 1  # the gateway's --seed: its latency draws come from random.Random(SEED)
ADDED_MS = 200.0
JITTER_MS = 50.0
TOLERANCE_MS = 10.0  # 5 % of 200 ms
CONCURRENCY = 4  # low: the gateway stays idle, so the delay is the fault's own
FAULTS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "fixed": {"ms": ADDED_MS},
    "normal": {"ms": ADDED_MS, "jitter_ms": JITTER_MS, "distribution": "normal"},
}


@dataclass(frozen=True)
class Figures:
    rounds: int
    per_round: int
    median_ms: dict[str, float]  # pooled median latency per condition
    added_ms: dict[str, float]  # pooled median of a condition minus that of no fault
    added_by_round: dict[str, list[float]]  # a round's median minus its no-fault round's
    drawn_ms: dict[str, float]  # median of the delays the gateway drew (replayed)
    drawn_by_round: dict[str, list[float]]
    spread_ms: dict[str, float]  # sd estimated from the interquartile range, pooled


async def _timed(session: aiohttp.ClientSession, url: str, users: list[str]) -> list[float]:
    """Latency in ms of one GET per user, CONCURRENCY at a time."""
    todo = iter(users)
    out: list[float] = []

    async def worker() -> None:
        for user in todo:
            started = time.perf_counter()
            async with session.get(f"{url}/v1/accounts/{user}") as resp:
                await resp.read()
                resp.raise_for_status()
            out.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return out


async def _add_fault(session: aiohttp.ClientSession, url: str, params: dict[str, Any]) -> str:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {"kind": "latency", "params": params, "target": {"route": "account"}, "seed": 7}
    async with session.post(f"{url}/_chaos/faults", json=body, headers=headers) as resp:
        resp.raise_for_status()
        fault_id = str((await resp.json())["id"])
    for _ in range(100):  # it turns active on the gateway's next loop turn
        async with session.get(f"{url}/_chaos/faults", headers=headers) as resp:
            states = {f["id"]: f["state"] for f in (await resp.json())["faults"]}
        if states.get(fault_id) == "active":
            return fault_id
        await asyncio.sleep(0.01)
    raise RuntimeError(f"latency fault {fault_id} never became active")


async def _clear(session: aiohttp.ClientSession, url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with session.delete(f"{url}/_chaos/faults", headers=headers) as resp:
        resp.raise_for_status()


async def _measure(url: str, rounds: int, per_round: int) -> dict[str, list[list[float]]]:
    samples: dict[str, list[list[float]]] = {name: [] for name in FAULTS}
    n = 0

    def users() -> list[str]:
        nonlocal n
        n += per_round
        return [f"u{(n + i) % 10_000 + 1:06d}" for i in range(per_round)]

    async with aiohttp.ClientSession() as session:
        await _timed(session, url, users())  # warm-up: connections, caches
        for _ in range(rounds):
            for name, params in FAULTS.items():
                if params is not None:
                    await _add_fault(session, url, params)
                samples[name].append(await _timed(session, url, users()))
                if params is not None:
                    await _clear(session, url)
    return samples


def run(rounds: int, per_round: int) -> Figures:
    with tempfile.TemporaryDirectory(prefix="paystorm-bench-") as tmp:
        argv = [python(), "-m", "mock_gateway", "--port", "0", "--profile", "bench"]
        argv += ["--db", str(Path(tmp) / "ledger.db"), "--admin-token", TOKEN]
        argv += ["--seed", str(SEED)]
        with server(argv, core=0) as url:
            samples = asyncio.run(_measure(url, rounds, per_round))
    base = [statistics.median(s) for s in samples["none"]]
    faulted = [name for name in FAULTS if name != "none"]
    pooled = {name: sorted(v for s in runs for v in s) for name, runs in samples.items()}
    median_ms = {name: statistics.median(v) for name, v in pooled.items()}
    drawn = _drawn(rounds, per_round)
    return Figures(
        rounds=rounds,
        per_round=per_round,
        median_ms=median_ms,
        added_ms={name: median_ms[name] - median_ms["none"] for name in faulted},
        added_by_round={
            name: [statistics.median(s) - b for s, b in zip(samples[name], base, strict=True)]
            for name in faulted
        },
        drawn_ms={name: statistics.median(v for r in drawn[name] for v in r) for name in faulted},
        drawn_by_round={name: [statistics.median(r) for r in drawn[name]] for name in faulted},
        spread_ms={name: _iqr_sd(v) for name, v in pooled.items()},
    )


def _drawn(rounds: int, per_round: int) -> dict[str, list[list[float]]]:
    """The delays (ms) the gateway drew, round by round: one random.Random(SEED) shared by
    every latency fault, in the order the requests came (within a round the order does not
    change which delays the round got)."""
    rng = random.Random(SEED)
    out: dict[str, list[list[float]]] = {name: [] for name in FAULTS if name != "none"}
    for _ in range(rounds):
        for name in out:
            spec = Latency().parse(dict(FAULTS[name] or {}))
            out[name].append([spec.delay_s(rng) * 1000 for _ in range(per_round)])
    return out


def _iqr_sd(values: list[float]) -> float:
    q1, _, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / 1.349  # the sd of a normal distribution with that IQR


def section(quick: bool) -> Section:
    rounds, per_round = (3, 50) if quick else (6, 50)
    started = time.monotonic()
    f = run(rounds, per_round)
    n = rounds * per_round
    s = Section(
        name="latency_fault",
        title="Latency fault accuracy",
        conditions=(
            f"Gateway `--profile bench --seed {SEED}` on core 0; aiohttp client in the bench "
            f"process, {CONCURRENCY} concurrent, GET /v1/accounts/…; {rounds} interleaved "
            f"rounds of {per_round} requests per condition ({n} each); fault "
            "`target.route: account`. Added delay = median latency of all a condition's "
            "requests minus that of all the no-fault ones. *Drawn* = the median of the delays "
            "the gateway drew for those requests, replayed from its seed: the same seed "
            "draws the same delays every run, so that sample's own median, not the gateway, "
            "decides how far the normal case lands from 200 ms."
        ),
        quick=quick,
    )
    for name, label in (("fixed", "200 ms fixed"), ("normal", "200 ms ± 50 normal")):
        added = f.added_ms[name]
        s.rows.append(
            Row(
                figure=f"added delay, {label}",
                measured=f"{added:.1f} ms (drawn: {f.drawn_ms[name]:.1f} ms)",
                baseline=f"no fault: {f.median_ms['none']:.2f} ms",
                ratio=added / ADDED_MS,
                target=f"{ADDED_MS:.0f} ± {TOLERANCE_MS:.0f} ms",
                passed=abs(added - ADDED_MS) <= TOLERANCE_MS,
            )
        )
    error = f.added_ms["normal"] - f.drawn_ms["normal"]
    s.rows += [
        Row(
            figure="gateway's own error, 200 ms ± 50 normal",
            measured=f"{error:+.1f} ms (added minus drawn)",
            baseline=f"drawn: {f.drawn_ms['normal']:.1f} ms",
            ratio=f.added_ms["normal"] / f.drawn_ms["normal"],
            target="reported",
            passed=None,
        ),
        Row(
            figure="spread, 200 ms ± 50 normal",
            measured=f"sd ≈ {f.spread_ms['normal']:.1f} ms (from the IQR)",
            baseline=f"fixed: {f.spread_ms['fixed']:.1f} ms",
            ratio=f.spread_ms["normal"] / JITTER_MS,
            target="reported (50 ms asked)",
            passed=None,
        ),
    ]
    s.details.append(
        table(
            ["round", "added, fixed", "added, normal", "drawn, normal"],
            [
                [
                    str(i + 1),
                    f"{f.added_by_round['fixed'][i]:.1f} ms",
                    f"{f.added_by_round['normal'][i]:.1f} ms",
                    f"{f.drawn_by_round['normal'][i]:.1f} ms",
                ]
                for i in range(rounds)
            ],
        )
    )
    s.wall_s = time.monotonic() - started
    return s


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.latency_fault", description=__doc__)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--per-round", type=int, default=50)
    args = p.parse_args()
    f = run(args.rounds, args.per_round)
    for name in ("fixed", "normal"):
        print(
            f"{name}: added {f.added_ms[name]:.1f} ms, drawn {f.drawn_ms[name]:.1f} ms (rounds: "
            f"{', '.join(f'{v:.1f}' for v in f.added_by_round[name])}); median latency "
            f"{f.median_ms[name]:.1f} ms against {f.median_ms['none']:.2f} ms without; "
            f"sd ≈ {f.spread_ms[name]:.1f} ms"
        )


if __name__ == "__main__":
    main()

"""A step of the capacity search, judged from its results folder: the seconds after its
warm-up against the scenario's objectives (the same rule as the knee's levels, in
`reports.judge`), and, where it broke, what broke first — the top had-credit cause and what
the gateway's internals were doing (its queue against the clients' timeout, its channels'
slots, breakers, shedding)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from reports.internals import Internals, gateway_internals
from reports.judge import STRETCH_OBJECTIVES, measure_stretches, split_by_link
from reports.model import FloatArray, Run
from reports.summary import LATE_P99_MS

SATURATED_SHARE = 0.5  # of a step's samples with every slot busy: the channel was a limit
BUSY_CPU_PCT = 80.0  # of one core: the gateway's event loop itself was near its limit
NOTHING_MEASURED = "no_traffic"  # a step whose window held no payment to judge


@dataclass(frozen=True, slots=True)
class StepVerdict:
    """One step: the rate it offered and whether the objectives held after its warm-up."""

    rate_per_s: float
    held: bool
    broken: tuple[str, ...]  # the objectives that broke (empty when it held)
    seconds: int  # seconds judged
    offered: int
    dropped: int
    success_rate: float | None  # of the main population (normal links when split)
    p99_ms: float | None
    weak_success_rate: float | None
    weak_p99_ms: float | None
    attempts_per_payment: float | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["broken"] = list(self.broken)
        return data


def step_objectives(run: Run) -> dict[str, float]:
    """The objectives a step is judged on: the stretch objectives its scenario sets."""
    slo = run.scenario.slo if run.scenario else {}
    return {k: v for k, v in slo.items() if k in STRETCH_OBJECTIVES}


def judge_step(run: Run, rate_per_s: float, start_s: float, end_s: float) -> StepVerdict:
    """The step's seconds in [start_s, end_s) judged against its scenario's objectives."""
    slo = step_objectives(run)
    window = [s for s in run.seconds if start_s <= s.time < end_s and s.offered > 0]
    [m] = measure_stretches(run, [window], split_by_link(slo))
    broken = m.broken(slo) if window else None
    payments = sum(s.payments for s in window)
    return StepVerdict(
        rate_per_s=rate_per_s,
        held=broken == (),
        broken=(NOTHING_MEASURED,) if broken is None else broken,
        seconds=len(window),
        offered=sum(s.offered for s in window),
        dropped=sum(s.dropped for s in window),
        success_rate=m.success_rate,
        p99_ms=m.p99_ms,
        weak_success_rate=m.weak_success_rate,
        weak_p99_ms=m.weak_p99_ms,
        attempts_per_payment=sum(s.attempts for s in window) / payments if payments else None,
    )


@dataclass(frozen=True, slots=True)
class GatewaySetup:
    """What the gateway was given, to read its internals against: slots per channel and the
    clients' timeout."""

    channel_slots: Mapping[str, int]
    client_timeout_s: float


def what_broke(run: Run, start_s: float, end_s: float, setup: GatewaySetup) -> dict[str, Any]:
    """What the step's seconds in [start_s, end_s) show: the had-credit failures by cause
    (top first) and the gateway's internals, each with a sentence that says it."""
    causes: Counter[str] = Counter()
    if run.payments is not None:
        for (second, code), n in run.payments.had_credit_failures_by_second.items():
            if start_s <= second < end_s:
                causes[code] += n
    failures = sum(causes.values())
    found: list[str] = []
    top = causes.most_common(3)
    if top:
        code, n = top[0]
        found.append(
            f"top had-credit cause {code}: {n:,} of {failures:,} failures ({n / failures:.0%})"
        )
    internals = _internals(run, start_s, end_s, setup)
    found += internals.pop("findings")
    late = _lateness_p99(run, start_s, end_s)
    if late is not None and late > LATE_P99_MS:
        # Latency counts from the intended start: a starved generator's delay is in it.
        found.append(
            f"the load generator began payments late (p99 {late:,.0f} ms after their intended "
            "start): this machine, not only the gateway, was short of CPU"
        )
    return {
        "had_credit_failures": failures,
        "causes": [{"code": c, "payments": n, "share": n / failures} for c, n in top],
        **internals,
        "lateness_p99_ms": late,
        "findings": found,
    }


def _lateness_p99(run: Run, start_s: float, end_s: float) -> float | None:
    log = run.payments
    if log is None or log.lateness_ms is None:
        return None
    inside = (log.start_s >= start_s) & (log.start_s < end_s) & np.isfinite(log.lateness_ms)
    values = log.lateness_ms[inside]
    return float(np.percentile(values, 99)) if values.size else None


def _window(
    time: FloatArray, values: FloatArray | None, start_s: float, end_s: float
) -> FloatArray:
    if values is None:
        return np.array([], dtype=np.float64)
    inside = (time >= start_s) & (time < end_s) & np.isfinite(values)
    return values[inside]


def _waiting(run: Run, data: Internals, start_s: float, end_s: float) -> FloatArray:
    """Requests waiting in the gateway each second: in its admission queue, or admitted and
    waiting for a channel slot."""
    t = data.time
    inside = (t >= start_s) & (t < end_s)
    total = np.zeros(int(inside.sum()))
    if data.queued is not None:
        total += np.nan_to_num(data.queued[inside])
    for channel in _channel_waiting(run).values():
        total += np.nan_to_num(channel[inside])
    return total


def _channel_waiting(run: Run) -> dict[str, FloatArray]:
    columns = run.gateway.channels.get("channel_waiting", {}) if run.gateway else {}
    return {
        name: np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        for name, values in columns.items()
    }


def _internals(run: Run, start_s: float, end_s: float, setup: GatewaySetup) -> dict[str, Any]:
    data = gateway_internals(run)
    if data is None:
        return {"findings": ["the gateway's internals were not sampled"]}
    t = data.time
    found: list[str] = []
    waiting = _waiting(run, data, start_s, end_s)
    done = [s for s in run.seconds if start_s <= s.time < end_s]
    completed = sum(s.succeeded + s.declined + s.failed for s in done) / max(1, len(done))
    wait_s = None
    if waiting.size and completed > 0:
        # Little's law: what waits over the rate payments leave at is how long each waits.
        wait_s = float(waiting.mean() / completed)
        if waiting.mean() >= 1:
            past = wait_s >= setup.client_timeout_s
            found.append(
                f"{waiting.mean():,.0f} requests waiting in the gateway on average (peak "
                f"{waiting.max():,.0f}, for admission or a channel slot): about {wait_s:.1f} s "
                + ("past" if past else "within")
                + f" the clients' {setup.client_timeout_s:g} s timeout"
            )
    cpu = _window(t, data.cpu_pct, start_s, end_s)
    if cpu.size and cpu.mean() >= BUSY_CPU_PCT:
        found.append(f"the gateway's process used {cpu.mean():.0f} % of a core on average")
    shed = _window(t, data.shed_per_s, start_s, end_s)
    if shed.size and shed.mean() >= 0.5:
        found.append(f"shedding {shed.mean():,.0f} requests/s (SYSTEM_BUSY)")
    saturated = {}
    queues = _channel_waiting(run)
    for channel, busy in data.channel_busy.items():
        slots = setup.channel_slots.get(channel)
        values = _window(t, busy, start_s, end_s)
        if not slots or not values.size:
            continue
        share = float(np.mean(values >= slots))
        saturated[channel] = share
        behind = _window(t, queues.get(channel), start_s, end_s)
        if share >= SATURATED_SHARE:
            found.append(
                f"channel {channel} at its limit: all {slots} slots busy in {share:.0%} of the "
                f"seconds, {behind.mean() if behind.size else 0:,.0f} payments waiting for one "
                "on average"
            )
    spans = [b for b in data.breaker_spans if b.start_s < end_s and b.end_s > start_s]
    for channel in dict.fromkeys(b.channel for b in spans):
        found.append(f"breaker of {channel} tripped")
    breakers = [
        {"channel": b.channel, "state": b.state, "start_s": b.start_s, "end_s": b.end_s}
        for b in spans
    ]
    return {
        "waiting_mean": float(waiting.mean()) if waiting.size else None,
        "waiting_peak": float(waiting.max()) if waiting.size else None,
        "wait_s": wait_s,
        "shed_per_s": float(shed.mean()) if shed.size else None,
        "cpu_pct": float(cpu.mean()) if cpu.size else None,
        "channel_saturated_share": saturated,
        "breakers": breakers,
        "findings": found,
    }

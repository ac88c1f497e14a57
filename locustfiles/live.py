"""The web UI's live payments view: what the run's own recorder has counted so far, second by
second, as outcomes.csv will have it, with the run's objectives judged on it (no Locust or
Flask import here).

A second's row is the recorder's own (`Recorder.row`), so the live numbers and outcomes.csv
agree; a recent second still changes while its payments are in flight, so the page asks again
for the last `settle_s` seconds each time. On the master of a distributed run the recorder
holds every worker's payments, merged as they arrive (see locustfiles.distributed)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from contract import palette
from contract.columns import CODE_PREFIX
from contract.objectives import OBJECTIVES, holds, objectives_for
from contract.palette import cause_colours
from locustfiles.context import RunContext
from locustfiles.outcomes import Recorder
from scenarios.model import Scenario, rate_at, users_at
from scenarios.pool import longest_person_of

# Latencies so far go into buckets 1 % wide: a percentile read from them errs high by at most
# 1 %, and costs a pass over the payments finished since the last look, not over all of them.
BUCKET_RATIO = 1.01
_LOG_RATIO = math.log(BUCKET_RATIO)
SHAPE_POINTS = 120  # points of a scenario's load-shape picture
# The report's colours, for the page to draw with.
PALETTE = {
    "success": palette.SUCCESS,
    "failed": palette.FAILED,
    "unknown": palette.UNKNOWN,
    "offered": palette.OFFERED,
    "achieved": palette.ACHIEVED,
    "faults": palette.FAULT_PALETTE,
    "breakers": {"1": palette.BREAKER_COLOURS[1], "2": palette.BREAKER_COLOURS[2]},
}


class LatencySoFar:
    """Every finished payment's latency, from its intended start, in 1 % buckets."""

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self._seen: dict[int, int] = {}  # per second: latencies already counted

    def update(self, recorder: Recorder, settled: set[int]) -> None:
        """Count the latencies of settled seconds not counted yet (a second still in flight
        holds only its fast payments so far: counted, they would pull the tail down)."""
        for sec, bucket in recorder.seconds.items():
            if sec not in settled:
                continue
            values = bucket.latencies_ms
            seen = self._seen.get(sec, 0)
            if len(values) == seen:
                continue
            for ms in values[seen:]:
                index = int(math.log1p(max(ms, 0.0)) / _LOG_RATIO)
                self.buckets[index] = self.buckets.get(index, 0) + 1
            self.count += len(values) - seen
            self._seen[sec] = len(values)

    def quantiles(self, *qs: float) -> list[float | None]:
        """The upper edge of the bucket holding each q-th (0..1) latency, in one pass over the
        buckets; None when there are none."""
        if not self.count:
            return [None for _ in qs]
        ranks = [max(1, math.ceil(q * self.count)) for q in qs]
        found: list[float | None] = [None for _ in qs]
        running = 0
        for index in sorted(self.buckets):
            running += self.buckets[index]
            for i, rank in enumerate(ranks):
                if found[i] is None and running >= rank:
                    found[i] = round(math.expm1((index + 1) * _LOG_RATIO), 1)
            if found[-1] is not None and all(f is not None for f in found):
                break
        return found


def live_row(recorder: Recorder, sec: int, in_flight: int = 0) -> dict[str, Any]:
    """One second of the recorder, as outcomes.csv has it, with what the view draws beside:
    the success rate (dropped arrivals counted as people not served, as the report does) and
    the had-credit failures by cause."""
    row = recorder.row(sec)
    codes = {k.removeprefix(CODE_PREFIX): v for k, v in row.items() if k.startswith(CODE_PREFIX)}
    for key in [k for k in row if k.startswith(CODE_PREFIX)]:
        del row[key]
    people = row["had_credit"] + row["dropped"]
    paid = row["had_credit"] - row["had_credit_failed"]
    bucket = recorder.seconds.get(sec)
    row["success_rate"] = paid / people if people else None
    row["codes"] = codes
    row["causes"] = dict(bucket.causes) if bucket is not None else {}
    row["in_flight"] = in_flight  # started this second, no outcome yet: the row still changes
    return row


class LiveRun:
    """The live view of one run context: its rows since a second, its totals and objectives."""

    def __init__(self, ctx: RunContext, *, in_flight_known: bool = True) -> None:
        """`in_flight_known`: False on the master of a distributed run, whose recorder hears
        of a payment only once it has ended on its worker."""
        self.ctx = ctx
        self.in_flight_known = in_flight_known
        self.latency = LatencySoFar()
        self.settle_s = math.ceil(longest_person_of(ctx.scenario)) + 1
        self.ended_s: float | None = None  # when the run's load stopped, run seconds

    def snapshot(self, since: int, *, stopped: bool = False) -> dict[str, Any]:
        """The view from second `since` on; `stopped`: Locust has stopped the run's users
        (and, distributed, heard every worker's last payments)."""
        ctx, recorder = self.ctx, self.ctx.recorder
        ended_s = self.ended_s
        last = recorder.last_second
        first = max(0, min(since, last + 1))
        open_by_second = recorder.open_by_second()
        settled = self.settled(open_by_second, stopped)
        self.latency.update(recorder, settled)
        totals = self.totals(settled)
        p50, p95, p99 = self.latency.quantiles(0.50, 0.95, 0.99)
        return {
            "scenario": ctx.scenario.name,
            "started": ctx.started,
            "t0_unix": ctx.t0 if ctx.started else None,
            "elapsed_s": round(ctx.now_s() if ended_s is None else ended_s, 2)
            if ctx.started
            else 0.0,
            "duration_s": ctx.scenario.run_duration_s,
            "settle_s": self.settle_s,
            "in_flight": recorder.open_payments if self.in_flight_known else None,
            # Before second 0 an open-model run connects its whole pool (workers' counts
            # are the master's to sum; 0 here then).
            "pool": {"users": ctx.pool_users, "connected": ctx.connected},
            "seconds": [
                live_row(recorder, sec, open_by_second[sec]) for sec in range(first, last + 1)
            ],
            "totals": totals,
            "cause_colours": cause_colours(totals["causes"]),
            "latency_ms": {"p50": p50, "p95": p95, "p99": p99},
            "objectives": self.objectives(totals, p95, p99),
            "palette": PALETTE,
        }

    def settled(self, open_by_second: Counter[int], stopped: bool = False) -> set[int]:
        """The seconds from 0 up to the first one with a payment still in flight: their rates
        are final. While the run goes the current second is still being offered, and a later
        one may be empty only because the load generator has not reached it; once the run
        has stopped, every second whose payments have all ended counts. Where payments in
        flight are not known (a master), a second counts once its slowest person is done."""
        recorder = self.ctx.recorder
        if not self.ctx.started:
            return set()
        if stopped:
            return {s for s in range(recorder.last_second + 1) if not open_by_second[s]}
        now = min(int(self.ctx.now_s()), recorder.last_second + 1)
        if not self.in_flight_known:
            return set(range(0, max(0, now - self.settle_s)))
        first_open = min((s for s in open_by_second if s < now), default=now)
        return set(range(0, first_open))

    def totals(self, settled: set[int]) -> dict[str, Any]:
        """Counts over every second so far; the rates over the settled seconds only, as a
        payment still in flight is more likely the slow one that will fail."""
        recorder = self.ctx.recorder
        sums = dict.fromkeys(("payments", "refunds", "had_credit", "had_credit_failed"), 0)
        causes: dict[str, int] = {}
        succeeded = had_credit = had_credit_failed = dropped_settled = offered_settled = 0
        for bucket in recorder.seconds.values():
            sums["payments"] += bucket.payments
            sums["refunds"] += bucket.refunds
            sums["had_credit"] += bucket.had_credit
            sums["had_credit_failed"] += bucket.had_credit_failed
            succeeded += bucket.outcomes["succeeded"]
            for code, n in bucket.causes.items():
                causes[code] = causes.get(code, 0) + n
        for sec in settled:
            dropped_here = recorder.dropped_at(sec)
            dropped_settled += dropped_here
            offered_settled += dropped_here
            done = recorder.seconds.get(sec)
            if done is not None:
                had_credit += done.had_credit
                had_credit_failed += done.had_credit_failed
                offered_settled += done.payments + done.refunds
        dropped = recorder.dropped_total
        people = had_credit + dropped_settled
        return {
            **sums,
            "offered": sums["payments"] + sums["refunds"] + dropped,
            "dropped": dropped,
            "succeeded": succeeded,
            "settled_to": max(settled, default=None),
            "people_with_credit": people,
            "success_rate": (had_credit - had_credit_failed) / people if people else None,
            "dropped_rate": dropped_settled / offered_settled if offered_settled else None,
            "causes": dict(sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))),
        }

    def objectives(
        self, totals: dict[str, Any], p95: float | None, p99: float | None
    ) -> list[dict[str, Any]]:
        """Each objective of the scenario, judged on what has finished so far, in words."""
        slo = {name: getattr(self.ctx.scenario.slo, name, None) for name in OBJECTIVES}
        chosen, implicit = objectives_for(slo, self.ctx.scenario.load.model == "arrival-rate")
        rate = totals["success_rate"]
        measured: dict[str, float | None] = {
            "success_rate": rate,
            "had_credit_failure_rate": None if rate is None else 1 - rate,
            "dropped_rate": totals["dropped_rate"],
            "p95_ms": p95,
            "p99_ms": p99,
        }
        judged = []
        for name, target in chosen.items():
            comparison, meaning = OBJECTIVES[name]
            value = measured.get(name)
            if name == "ghost_charges":
                state, words = "later", "checked against the ledger when the run ends"
            elif value is None:
                state, words = "unmeasured", "nothing measured yet"
            else:
                state = "met" if holds(value, target, comparison) else "failing"
                words = f"{_shown(name, value)} so far, {comparison} {_shown(name, target)}"
            judged.append(
                {
                    "name": name,
                    "target": target,
                    "comparison": comparison,
                    "measured": value,
                    "state": state,
                    "words": words,
                    "meaning": meaning,
                    "implicit": name in implicit,
                }
            )
        return judged


def _shown(name: str, value: float) -> str:
    if name.endswith("_ms"):
        return f"{value:,.0f} ms"
    if name.endswith("rate"):
        return f"{100 * value:.2f} %"
    return f"{value:g}"


def scenario_card(scenario: Scenario) -> dict[str, Any]:
    """What the start page shows of a scenario: its description, its load over time (a
    picture's worth of points) and its fault timeline."""
    load = scenario.load
    end = scenario.duration_s
    step = end / SHAPE_POINTS
    level = rate_at if load.model == "arrival-rate" else users_at
    # The last point just inside the end: after it the level is 0 by definition.
    times = [min(i * step, end * (1 - 1e-9)) for i in range(SHAPE_POINTS + 1)]
    shape = [[round(t, 2), level(load.stages, t)] for t in times]
    slo = {name: getattr(scenario.slo, name, None) for name in OBJECTIVES}
    return {
        "name": scenario.name,
        "description": scenario.description,
        "model": load.model,
        "duration_s": scenario.duration_s,
        "speed": scenario.speed,
        "stages": [
            {
                k: v
                for k, v in (
                    ("until_s", s.until_s),
                    ("rate", s.rate),
                    ("users", s.users),
                    ("ramp", s.ramp),
                )
                if v is not None
            }
            for s in load.stages
        ],
        "shape": shape,
        "faults": [
            {
                "kind": f.kind,
                "params": f.raw_params,
                "start_s": f.start_in_s,
                "end_s": end if f.duration_s is None else min(end, f.start_in_s + f.duration_s),
            }
            for f in scenario.faults
        ],
        "slo": {k: v for k, v in slo.items() if v is not None},
        "mix": {k: v for k, v in scenario.mix.weights().items() if v},
        "client": {
            "timeout_s": scenario.client.timeout_s,
            "retry": scenario.client.retry,
            "max_retries": scenario.client.max_retries,
        },
    }

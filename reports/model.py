"""The typed content of a results folder, as the readers hand it to the report.

Every class is a frozen dataclass; `reports.run.load_run` builds a `Run` from the files.
Times are seconds since the run's start unless a name says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from contract import codes

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class RunError(Exception):
    """A results folder that cannot be read: the message is one line naming the file."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    """`run.json`: what the runner recorded about the run; any field may be missing."""

    scenario: str | None
    started_at: str | None
    ended_at: str | None
    duration_s: float | None
    target: str | None
    stop_reason: str | None
    stop_detail: str | None
    locust_exit_code: int | None
    pool: PoolInfo | None = None


@dataclass(frozen=True, slots=True)
class PoolInfo:
    """`run.json`'s `pool`: the open model's users, and how many the scenario could need."""

    users: int
    needed: int
    explicit: bool


@dataclass(frozen=True, slots=True)
class Scenario:
    """The parts of the resolved `scenario.yaml` the report uses.

    `slo` holds only objectives that are set (a null value means no objective).
    """

    name: str
    description: str
    duration_s: float | None
    load_model: str | None
    slo: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Second:
    """One row of `outcomes.csv`: payments due to start in second `time` and what became of them."""

    time: int
    users: int
    offered: int
    dropped: int
    payments: int
    had_credit: int
    had_credit_failed: int
    attempts: int
    succeeded: int
    declined: int
    failed: int
    unknown: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    codes: Mapping[str, int] = field(default_factory=dict)
    refunds: int = 0

    @property
    def served(self) -> int:
        """Arrivals a user took: payments and refunds (the rest of `offered` was dropped)."""
        return self.payments + self.refunds

    @property
    def people_with_credit(self) -> int:
        """Had-credit payments, and every dropped arrival: the run never learnt whether a
        person it turned away had credit, so it counts the worst case — one who had, and
        could not pay."""
        return self.had_credit + self.dropped

    @property
    def success_rate(self) -> float | None:
        """Share of the people with credit who paid, dropped arrivals counted as not served;
        None when none had credit."""
        people = self.people_with_credit
        if people == 0:
            return None
        return (self.had_credit - self.had_credit_failed) / people

    @property
    def dropped_rate(self) -> float | None:
        """Share of this second's arrivals that no user took."""
        return self.dropped / self.offered if self.offered else None

    @property
    def failed_rate(self) -> float | None:
        """Share of payments started this second that definitely failed."""
        return self.failed / self.payments if self.payments else None

    @property
    def unknown_rate(self) -> float | None:
        """Share of payments started this second whose outcome stayed unknown."""
        return self.unknown / self.payments if self.payments else None


# The outcomes a payment can end in, in the order `PaymentLog.outcome` indexes them.
OUTCOMES = codes.OUTCOMES


@dataclass(frozen=True, slots=True)
class PaymentLog:
    """What the report keeps of `payments.jsonl`: never one object per payment.

    `latency_ms`, `start_s`, `outcome` (an index into OUTCOMES) and `attempts` (-1 when the
    line had none) are parallel arrays, NaN latency when the log had none.
    `had_credit_failures_by_code` counts had-credit payments that did not succeed, by final
    code; `had_credit_failures_by_second` counts the same by (start second, final code).
    """

    count: int
    latency_ms: FloatArray = field(compare=False, repr=False)
    start_s: FloatArray = field(compare=False, repr=False)
    outcome: IntArray = field(compare=False, repr=False)
    attempts: IntArray = field(compare=False, repr=False)
    outcomes: Mapping[str, int]
    had_credit_failures_by_code: Mapping[str, int]
    had_credit_failures_by_second: Mapping[tuple[int, str], int] = field(repr=False)
    refunds_by_second: Mapping[int, int] = field(default_factory=dict, repr=False)
    lateness_ms: FloatArray | None = field(default=None, compare=False, repr=False)
    """How late each payment began after its intended start (open model; NaN when the
    line does not say): the load generator's own delay."""
    not_told_success: IntArray | None = field(default=None, compare=False, repr=False)
    """A hash of the key of every payment whose client was not told it succeeded: what the
    self-check looks up in the ledger to count ghost charges again."""
    weak: BoolArray | None = field(default=None, compare=False, repr=False)
    """Whether each payment's person was on a weak mobile link."""
    had_credit: BoolArray | None = field(default=None, compare=False, repr=False)
    """Whether each payment's person had the credit to pay."""


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """One applied fault from `faults.json`; `ended_at_s` is None when it outlived the run."""

    id: str
    kind: str
    started_at_s: float
    ended_at_s: float | None

    def covers(self, start_s: float, end_s: float, run_end_s: float) -> bool:
        """Whether the window overlaps the interval [start_s, end_s)."""
        ended = self.ended_at_s if self.ended_at_s is not None else run_end_s
        return self.started_at_s < end_s and ended > start_s


@dataclass(frozen=True, slots=True)
class GatewayMetrics:
    """`gateway_metrics.csv`: one sample a second; columns the report knows, by name.

    `channels` maps each per-channel column family (see contract.columns) to its channels'
    columns, e.g. {"breaker": {"bank_a": (0, 0, 2, …)}}.
    """

    time: tuple[int, ...]
    columns: Mapping[str, tuple[float | None, ...]]
    channels: Mapping[str, Mapping[str, tuple[float | None, ...]]] = field(default_factory=dict)

    def peak(self, name: str) -> float | None:
        values = [v for v in self.columns.get(name, ()) if v is not None]
        return max(values) if values else None


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """One row of Locust's `locust_stats.csv` (times in ms, cumulative over the run)."""

    method: str
    name: str
    requests: int
    failures: int
    median_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    requests_per_s: float | None


@dataclass(frozen=True, slots=True)
class LocustError:
    """One row of Locust's `locust_failures.csv`."""

    method: str
    name: str
    error: str
    occurrences: int


@dataclass(frozen=True, slots=True)
class AuditCheck:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Audit:
    """`audit.json`: the gateway's invariant checks after the run."""

    ok: bool
    checks: tuple[AuditCheck, ...]
    pending: int | None
    error: str | None = None  # the runner could not fetch the audit


@dataclass(frozen=True, slots=True)
class Reconcile:
    """`reconcile.json`: the client log cross-checked against the ledger.

    `ghost_charges` is None when the runner could not read the ledger (`error` says why).
    """

    ghost_charges: int | None
    lost_successes: int | None
    examples: tuple[Any, ...]
    error: str | None = None
    refunds: int | None = None  # refund lines the client wrote (absent before refunders)
    lost_refunds: int | None = None  # told done, not in the ledger
    ghost_refunds: int | None = None  # in the ledger, the refunder told it failed


@dataclass(frozen=True, slots=True)
class Run:
    """A results folder read into typed data; optional files that were absent are None/empty."""

    path: Path
    info: RunInfo | None
    scenario: Scenario | None
    seconds: tuple[Second, ...]
    code_names: tuple[str, ...]
    payments: PaymentLog | None
    faults: tuple[FaultWindow, ...]
    gateway: GatewayMetrics | None
    audit: Audit | None
    reconcile: Reconcile | None
    has_locust_html: bool
    endpoints: tuple[EndpointStats, ...] = ()
    locust_errors: tuple[LocustError, ...] = ()

    @property
    def name(self) -> str:
        """The scenario's name, else run.json's, else the folder's."""
        if self.scenario is not None:
            return self.scenario.name
        if self.info is not None and self.info.scenario:
            return self.info.scenario
        return self.path.name

    @property
    def end_s(self) -> float:
        """Where the run's time axis ends: the last second recorded, else the planned length."""
        last = float(self.seconds[-1].time + 1) if self.seconds else 0.0
        if self.info is not None and self.info.duration_s is not None:
            return max(last, self.info.duration_s)
        return last

    def faults_during(self, start_s: float, end_s: float) -> tuple[FaultWindow, ...]:
        """The fault windows that overlap [start_s, end_s)."""
        return tuple(f for f in self.faults if f.covers(start_s, end_s, self.end_s))

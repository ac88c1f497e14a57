"""What happened to every payment, per second of its intended start (no Locust import here).

A payment is counted in the second it was due to start, not the one it finished in, so a slow
second shows up where the load was offered."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from contract.codes import (
    RUN_ENDED,
    outcome_of,
)
from contract.columns import CODE_PREFIX, write_outcomes
from contract.lines import REFUND, PaymentLine, decode_line, encode_line


@dataclass(slots=True)
class Payment:
    """One checkout as the client lived it; for a refunder, one refund (`amount` refunded of
    `payment_id`, `key` the refund's own idempotency key)."""

    key: str
    user_id: str
    merchant_id: str
    amount: int
    start_s: float  # intended start, seconds since the run's t0
    lateness_ms: float = 0.0  # actual start minus intended start (open model; 0 when closed)
    kind: str = "shopper"  # the user type: shopper, pos or refund
    network: str = "normal"  # or "weak": a slow, short-tempered, dropping mobile link
    city: str = ""
    credit_shown: int | None = None
    payment_id: str | None = None
    attempts: int = 0
    codes: list[str] = field(default_factory=list)
    code: str | None = None
    latency_ms: float = 0.0

    @property
    def is_refund(self) -> bool:
        return self.kind == REFUND

    @property
    def had_credit(self) -> bool:
        if self.is_refund:
            return False  # a refund spends no credit: outside the success rate
        if self.credit_shown is None:
            # The checkout page failed to show it: the payment's own answer says whether the
            # account could pay (a legitimate decline), anything else counts against the
            # gateway.
            return outcome_of(self.code) != "declined"
        return self.credit_shown >= self.amount

    def as_line(self) -> PaymentLine:
        return PaymentLine(
            type=self.kind,
            network=self.network,
            city=self.city,
            key=self.key,
            payment_id=self.payment_id,
            user_id=self.user_id,
            merchant_id=self.merchant_id,
            amount=self.amount,
            credit_shown=self.credit_shown,
            had_credit=self.had_credit,
            # Rounded down, so the line falls in the second the recorder counted it in.
            start_s=math.floor(self.start_s * 10_000) / 10_000,
            latency_ms=round(self.latency_ms, 2),
            lateness_ms=round(self.lateness_ms, 3),
            attempts=self.attempts,
            codes=list(self.codes),
            outcome=outcome_of(self.code),
            code=self.code,
        )


@dataclass(slots=True)
class Second:
    users: int = 0
    dropped: int = 0
    payments: int = 0
    had_credit: int = 0
    had_credit_failed: int = 0
    attempts: int = 0
    refunds: int = 0
    refunds_failed: int = 0  # failed or unknown: the refunder was not told it was done
    outcomes: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    causes: Counter[str] = field(default_factory=Counter)  # had-credit failures by final code
    latencies_ms: list[float] = field(default_factory=list)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class Outbox:
    """A worker's payment lines and per-second counts not yet sent to the master."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, line: bytes) -> int:
        self.lines.append(line)
        return len(line)


class Recorder:
    """Per-second buckets and the per-payment log of one Locust process; on the master of a
    distributed run, the same buckets rebuilt from every worker's payment lines."""

    def __init__(self, payments_log: IO[bytes] | Outbox | None = None) -> None:
        self.seconds: dict[int, Second] = {}
        self._log = payments_log
        self._open: dict[int, Payment] = {}
        self.finished = 0
        self.live: Counter[str] = Counter()  # since the last take_live(), for progress lines
        self._changed: set[int] = (
            set()
        )  # seconds whose dropped or users changed since `take_counts`
        # Per worker, per second: (dropped, users), the worker's own figures, replaced as sent.
        self._workers: dict[str, dict[int, tuple[int, int]]] = {}

    def _bucket(self, t_s: float) -> Second:
        sec = int(t_s) if t_s >= 0 else 0
        bucket = self.seconds.get(sec)
        if bucket is None:
            bucket = self.seconds[sec] = Second()
        return bucket

    def started(self, payment: Payment) -> None:
        bucket = self._bucket(payment.start_s)
        if payment.is_refund:
            bucket.refunds += 1
        else:
            bucket.payments += 1
        self.live["started"] += 1
        self._open[id(payment)] = payment

    def attempted(self, payment: Payment) -> None:
        payment.attempts += 1
        if not payment.is_refund:  # the column measures retry amplification of payments
            self._bucket(payment.start_s).attempts += 1

    def dropped(self, t_s: float, count: int = 1) -> None:
        self._bucket(t_s).dropped += count
        self.live["dropped"] += count
        self._changed.add(int(max(t_s, 0)))

    def users(self, t_s: float, count: int) -> None:
        bucket = self._bucket(t_s)
        if count > bucket.users:
            bucket.users = count
            self._changed.add(int(max(t_s, 0)))

    def take_counts(self) -> dict[int, tuple[int, int]]:
        """A worker's (dropped, users) of each second changed since the last call."""
        changed, self._changed = self._changed, set()
        return {sec: (self.seconds[sec].dropped, self.seconds[sec].users) for sec in changed}

    def merge_counts(self, worker: str, counts: dict[int, tuple[int, int]]) -> None:
        """The master: a worker's latest (dropped, users) per second."""
        mine = self._workers.setdefault(worker, {})
        for sec, (dropped, users) in counts.items():
            before = mine.get(int(sec), (0, 0))[0]
            mine[int(sec)] = (int(dropped), int(users))
            self.live["dropped"] += int(dropped) - before

    def ingest(self, line: bytes) -> None:
        """The master: one finished payment (or refund) line from a worker, counted as if it
        had been recorded here."""
        data = decode_line(line)
        payment = Payment(
            key=data.key,
            user_id=data.user_id,
            merchant_id=data.merchant_id,
            amount=data.amount,
            start_s=data.start_s,
            lateness_ms=data.lateness_ms or 0.0,
            kind=data.type,
            network=data.network,
            city=data.city,
            credit_shown=data.credit_shown,
            payment_id=data.payment_id,
            attempts=data.attempts or 0,
            codes=list(data.codes),
            code=data.code,
        )
        bucket = self._bucket(payment.start_s)
        if payment.is_refund:
            bucket.refunds += 1
        else:
            bucket.payments += 1
            bucket.attempts += payment.attempts
        self.live["started"] += 1
        self._open[id(payment)] = payment
        self.finish(payment, payment.start_s + (data.latency_ms or 0.0) / 1000)

    def finish(self, payment: Payment, now_s: float) -> None:
        if self._open.pop(id(payment), None) is None:
            return  # already finished (or closed at the run's end)
        payment.latency_ms = max(0.0, (now_s - payment.start_s) * 1000)
        bucket = self._bucket(payment.start_s)
        outcome = outcome_of(payment.code)
        self.finished += 1
        self.live["finished"] += 1
        if payment.is_refund:
            bucket.refunds_failed += outcome != "succeeded"
            self._write(payment)
            return
        bucket.outcomes[outcome] += 1
        if payment.code is not None:
            bucket.codes[payment.code] += 1
        if payment.had_credit:
            bucket.had_credit += 1
            if outcome != "succeeded":
                bucket.had_credit_failed += 1
                bucket.causes[str(payment.code)] += 1  # a failure always has its code
        bucket.latencies_ms.append(payment.latency_ms)
        self.live[outcome] += 1
        if payment.had_credit:
            self.live["had_credit"] += 1
            self.live["had_credit_failed"] += outcome != "succeeded"
        self._write(payment)

    def _write(self, payment: Payment) -> None:
        if self._log is not None:
            self._log.write(encode_line(payment.as_line()))

    @property
    def open_payments(self) -> int:
        return len(self._open)

    def open_by_second(self) -> Counter[int]:
        """Payments still without an outcome, by the second they were due to start."""
        return Counter(int(max(p.start_s, 0)) for p in self._open.values())

    def take_live(self) -> Counter[str]:
        live, self.live = self.live, Counter()
        return live

    def close_open(self, now_s: float) -> int:
        """Payments still without an outcome when the run ends: counted, never lost."""
        still_open = list(self._open.values())
        for payment in still_open:
            payment.code = RUN_ENDED
            payment.codes.append(RUN_ENDED)
            self.finish(payment, now_s)
        return len(still_open)

    @property
    def last_second(self) -> int:
        """The latest second anything was counted in; -1 before the first."""
        return max([*self.seconds, *(sec for w in self._workers.values() for sec in w)], default=-1)

    def dropped_at(self, sec: int) -> int:
        """Arrivals of second `sec` dropped, this process's and every worker's."""
        mine = self.seconds[sec].dropped if sec in self.seconds else 0
        return mine + sum(w.get(sec, (0, 0))[0] for w in self._workers.values())

    @property
    def dropped_total(self) -> int:
        """Arrivals dropped so far, this process's and every worker's."""
        mine = sum(s.dropped for s in self.seconds.values())
        return mine + sum(d for w in self._workers.values() for d, _ in w.values())

    def row(self, sec: int) -> dict[str, Any]:
        """One second as outcomes.csv has it, with a `code_<CODE>` column for each code seen
        in that second (the web UI's live view reads the same rows)."""
        s = self.seconds.get(sec, Second())
        lat = sorted(s.latencies_ms)
        # Workers' users are each one's peak of the second, so their sum is an upper bound.
        dropped = s.dropped + sum(w.get(sec, (0, 0))[0] for w in self._workers.values())
        users = s.users + sum(w.get(sec, (0, 0))[1] for w in self._workers.values())
        row: dict[str, Any] = {
            "time": sec,
            "users": users,
            "offered": s.payments + s.refunds + dropped,
            "dropped": dropped,
            "payments": s.payments,
            "had_credit": s.had_credit,
            "had_credit_failed": s.had_credit_failed,
            "attempts": s.attempts,
            "succeeded": s.outcomes["succeeded"],
            "declined": s.outcomes["declined"],
            "failed": s.outcomes["failed"],
            "unknown": s.outcomes["unknown"],
            "p50_ms": round(percentile(lat, 50), 2) if lat else "",
            "p95_ms": round(percentile(lat, 95), 2) if lat else "",
            "p99_ms": round(percentile(lat, 99), 2) if lat else "",
            "refunds": s.refunds,
            "refunds_failed": s.refunds_failed,
        }
        for code, n in s.codes.items():
            row[f"{CODE_PREFIX}{code}"] = n
        return row

    def rows(self) -> list[dict[str, Any]]:
        codes = sorted({c for s in self.seconds.values() for c in s.codes})
        zeros = {f"{CODE_PREFIX}{code}": 0 for code in codes}
        return [{**zeros, **self.row(sec)} for sec in range(0, self.last_second + 1)]

    def write_outcomes(self, path: Path) -> None:
        write_outcomes(path, self.rows())

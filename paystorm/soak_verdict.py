"""The verdict of a soak, from its results folder alone: the money, and the gateway's
resources, each a line that holds or fails.

- The ledger audit holds (`audit.json`).
- No payment is left PENDING once the gateway settled (the audit's count and the ledger's
  rows of this run).
- Resolving clients leave no ghost charge: a POS terminal always resolves (looks the payment
  up, then reverses it), and so do shoppers and refunders when the scenario's client says
  `resolve_uncertain`.
- Every ghost charge of the other clients is explained: the client saw an answer after which
  nobody can know whether they were charged (`contract.codes.UNCERTAIN`: a timeout, a lost or
  broken answer, a pending or timed-out payment).
- Nobody was told a payment or refund went through that the ledger does not hold.
- The gateway's memory and open descriptors are flat: the last minute of load against the
  first minute after warm-up (`gateway_metrics.csv`), within the tolerances below.
- The run's self-check passes.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from contract.codes import UNCERTAIN
from contract.lines import LineError, read_ledger_statuses, read_lines
from contract.reconcile import CHARGED, is_ghost
from contract.runfolder import RunFolder
from mock_gateway.writer import CACHE_KIB

WINDOW_S = 60.0
"""The windows compared: the first minute after warm-up (itself a minute) and the last."""
MIN_WINDOW_S = 10.0
RSS_GROWTH = 0.15
"""Memory may grow by this share of the baseline (allocator noise, caches of this size)..."""
RSS_CACHE_BYTES = CACHE_KIB * 1024
"""...plus the ledger writer's SQLite page cache, which fills as the ledger grows, by
design, up to its cap: growth beyond both is what a leak would add."""
FDS_GROWTH = 0.05
FDS_SLACK = 16
"""Open descriptors are mostly the pool's connections, one per Locust user: a fault that
cuts answers or a client that gives up reconnects, so at any second a few are being opened
or closed. The last minute may hold this share of the baseline more, plus this many."""
EXAMPLES = 3


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


@dataclass(frozen=True)
class Flat:
    """One resource over the run: the baseline window's median and the last window's."""

    column: str
    first: float | None
    last: float | None
    peak: float | None
    windows: tuple[tuple[float, float], tuple[float, float]]


@dataclass
class Ghosts:
    resolving: int = 0
    others: int = 0
    explained: Counter[str] = field(default_factory=Counter)
    """The others' ghost charges by the first uncertain code each client saw."""
    unexplained: list[dict[str, Any]] = field(default_factory=list)
    resolving_examples: list[dict[str, Any]] = field(default_factory=list)
    unexplained_count: int = 0
    resolving_by_code: Counter[str] = field(default_factory=Counter)
    """The resolving clients' ghost charges by the final code they were told."""


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]
    ghosts: Ghosts
    rss: Flat
    fds: Flat

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [asdict(c) for c in self.checks],
            "ghost_charges": {
                "resolving": self.ghosts.resolving,
                "resolving_by_code": dict(self.ghosts.resolving_by_code),
                "resolving_examples": self.ghosts.resolving_examples,
                "others": self.ghosts.others,
                "explained_by": dict(self.ghosts.explained),
                "unexplained": self.ghosts.unexplained_count,
                "unexplained_examples": self.ghosts.unexplained,
            },
            "rss_bytes": asdict(self.rss),
            "open_fds": asdict(self.fds),
        }


def resolving_types(client: Mapping[str, Any]) -> frozenset[str]:
    """The person types whose client resolves an uncertain payment."""
    return frozenset({"pos", "shopper", "refund"} if client.get("resolve_uncertain") else {"pos"})


def count_ghosts(folder: RunFolder, resolving: frozenset[str]) -> Ghosts:
    """The ghost charges of payments.jsonl against ledger.jsonl, split by client kind."""
    charged = {row.key for row in read_ledger_statuses(folder.ledger) if row.status in CHARGED}
    ghosts = Ghosts()
    for line in read_lines(folder.payments):
        if not is_ghost(line, "SUCCEEDED" if line.key in charged else None):
            continue
        example = {"type": line.type, "key": line.key, "codes": line.codes, "code": line.code}
        if line.type in resolving:
            ghosts.resolving += 1
            ghosts.resolving_by_code[str(line.code)] += 1
            if len(ghosts.resolving_examples) < EXAMPLES:
                ghosts.resolving_examples.append(example)
            continue
        ghosts.others += 1
        why = next((code for code in line.codes if code in UNCERTAIN), None)
        if why is not None:
            ghosts.explained[why] += 1
            continue
        ghosts.unexplained_count += 1
        if len(ghosts.unexplained) < EXAMPLES:
            ghosts.unexplained.append(example)
    return ghosts


def windows(duration_s: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """The baseline (the first minute after a minute of warm-up) and the last minute of load,
    in seconds of the run; a fifth of the run each when it is shorter than five minutes."""
    w = max(MIN_WINDOW_S, min(WINDOW_S, duration_s / 5))
    return (w, 2 * w), (duration_s - w, duration_s)


def flat(metrics: Path, column: str, duration_s: float) -> Flat:
    """The medians of `column` in the two windows (None: not sampled there)."""
    first_w, last_w = windows(duration_s)
    rows: list[tuple[float, float]] = []
    if metrics.is_file():
        with metrics.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                value = row.get(column)
                if value not in (None, ""):
                    rows.append((float(row["time"]), float(value)))
    # A column of zeros was not sampled (a gateway whose /metrics lacks it).
    rows = [(t, v) for t, v in rows if v > 0]

    def median(lo: float, hi: float) -> float | None:
        values = [v for t, v in rows if lo <= t < hi]
        return statistics.median(values) if values else None

    return Flat(
        column=column,
        first=median(*first_w),
        last=median(*last_w),
        peak=max((v for _, v in rows), default=None),
        windows=(first_w, last_w),
    )


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def _flat_check(
    name: str, flat: Flat, growth: float, slack: float, show: Callable[[float], str], why: str
) -> Check:
    """The last window at most `growth` above the first, plus `slack` (`why` says what for)."""
    if flat.first is None or flat.last is None:
        return Check(name, False, "not sampled in both windows of gateway_metrics.csv")
    allowed = flat.first * (1 + growth) + slack
    (a, b), (c, d) = flat.windows
    detail = (
        f"{show(flat.first)} in seconds {a:g}-{b:g}, {show(flat.last)} in {c:g}-{d:g} "
        f"(peak {show(flat.peak or 0)}); at most {show(allowed)} allowed "
        f"(+{growth:.0%} and {why})"
    )
    return Check(name, flat.last <= allowed, detail)


def _rss_check(rss: Flat) -> Check:
    why = f"the {_mib(RSS_CACHE_BYTES)} page cache"
    name = "the gateway's memory (RSS) is flat"
    return _flat_check(name, rss, RSS_GROWTH, RSS_CACHE_BYTES, _mib, why)


def _fds_check(fds: Flat) -> Check:
    name = "the gateway's open descriptors are flat"
    return _flat_check(name, fds, FDS_GROWTH, FDS_SLACK, lambda n: f"{n:.0f}", str(FDS_SLACK))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _codes(counts: Counter[str]) -> str:
    return ", ".join(f"{n:,} {code}" for code, n in counts.most_common())


def judge(
    run_dir: Path,
    duration_s: float,
    client: Mapping[str, Any],
    self_check: Sequence[str],
) -> Verdict:
    """`self_check`: the invariants the report found broken (none: it passed)."""
    folder = RunFolder(run_dir)
    checks: list[Check] = []

    audit = _read_json(folder.audit)
    failed_audit = [n for n, c in (audit.get("checks") or {}).items() if not c.get("ok")]
    audit_detail = (
        "every invariant holds"
        if audit.get("ok")
        else f"failed: {', '.join(failed_audit) or audit.get('error', 'no audit.json')}"
    )
    checks.append(Check("the ledger audit holds", bool(audit.get("ok")), audit_detail))

    rec = _read_json(folder.reconcile)
    pending, unsettled = audit.get("pending"), rec.get("unsettled")
    checks.append(
        Check(
            "no payment is left PENDING after settling",
            pending == 0 and unsettled == 0,
            f"the audit counts {pending} pending, this run's ledger rows {unsettled}",
        )
    )

    resolving = resolving_types(client)
    try:
        ghosts = count_ghosts(folder, resolving)
        read_error = None
    except (OSError, LineError) as exc:
        ghosts, read_error = Ghosts(), str(exc)
    who = ", ".join(sorted(resolving))
    if read_error is not None:
        checks.append(Check(f"resolving clients ({who}) leave no ghost charge", False, read_error))
        checks.append(Check("every other ghost charge is explained", False, read_error))
    else:
        detail = (
            "none"
            if not ghosts.resolving
            else (
                f"{ghosts.resolving:,}, told {_codes(ghosts.resolving_by_code)}; e.g. codes "
                + "; ".join(" ".join(e["codes"]) for e in ghosts.resolving_examples)
            )
        )
        checks.append(
            Check(f"resolving clients ({who}) leave no ghost charge", not ghosts.resolving, detail)
        )
        explained = sum(ghosts.explained.values())
        detail = f"{ghosts.others:,} ghost charges" + (
            f", {explained:,} after a lost answer or a timeout ({_codes(ghosts.explained)})"
            if explained
            else ""
        )
        if ghosts.unexplained_count:
            detail += f"; {ghosts.unexplained_count:,} after none, e.g. codes " + "; ".join(
                " ".join(e["codes"]) or "(none)" for e in ghosts.unexplained
            )
        checks.append(
            Check(
                "every other ghost charge is explained by a lost answer or a timeout",
                not ghosts.unexplained_count,
                detail,
            )
        )

    lost, lost_refunds = rec.get("lost_successes"), rec.get("lost_refunds")
    checks.append(
        Check(
            "nobody was told of a payment or refund the ledger does not hold",
            lost == 0 and lost_refunds == 0,
            f"{lost} lost successes, {lost_refunds} lost refunds",
        )
    )

    rss = flat(folder.gateway_metrics, "rss_bytes", duration_s)
    fds = flat(folder.gateway_metrics, "open_fds", duration_s)
    checks += [_rss_check(rss), _fds_check(fds)]

    checks.append(
        Check(
            "the run's self-check passes",
            not self_check,
            "; ".join(self_check) if self_check else "every invariant holds",
        )
    )
    return Verdict(tuple(checks), ghosts, rss, fds)

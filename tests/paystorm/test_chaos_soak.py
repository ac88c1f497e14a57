"""`paystorm soak --chaos`: a 60 s chaos soak end to end, judged line by line; its command
line (usage errors, the printed plan replaying its seed); the verdict's rules on folders made
here.

The soak runs at 100 payments/s with a fixed seed: every fault kind is applied by the
gateway in overlapping windows, and the money must add up at the end (the audit, nothing
PENDING, every ghost charge of the shoppers explained by a lost answer or a timeout, nobody
told of money the ledger lacks), the gateway's memory and descriptors must stay flat and the
run's self-check must pass."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract.codes import Outcome
from contract.lines import LedgerLine, PaymentLine, encode_line
from faults import REGISTRY
from paystorm.sampler import parse_sample
from paystorm.soak_cli import main
from paystorm.soak_verdict import FDS_SLACK, RSS_CACHE_BYTES, Verdict, judge
from scenarios.chaos_timeline import CLIENT, chaos_scenario, chaos_timeline
from scenarios.loader import load_scenario, parse_scenario

# The soak: 60 s of load, start, settle and report; its lateness and memory need the
# machine to themselves.
pytestmark = [pytest.mark.timeout(300), pytest.mark.exclusive]

SEED = 20261201
DURATION_S = 60
RATE = 100  # well inside what one core of Locust and one of the gateway sustain here
MIB = 2**20


@dataclass(frozen=True)
class Soak:
    code: int
    output: str
    run_dir: Path
    verdict: dict[str, Any]
    left_in_tmp: list[str]
    """What the soak left in its own TMPDIR (its ledger's temporary folder, if not removed)."""
    left_running: list[str]
    """Processes still mentioning the soak's folders once it exited."""

    def check(self, start: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = [
            c for c in self.verdict["checks"] if c["name"].startswith(start)
        ]
        assert len(found) == 1, (start, self.verdict["checks"])
        return found[0]


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> Soak:
    out = tmp_path_factory.mktemp("soak")
    tmpdir = tmp_path_factory.mktemp("soak-tmp")
    argv = ["--chaos", "--seed", str(SEED), "--duration-s", str(DURATION_S), "--rate", str(RATE)]
    done = subprocess.run(
        [sys.executable, "-m", "paystorm", "soak", *argv, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=280,
        env={**os.environ, "TMPDIR": str(tmpdir)},
    )
    output = done.stdout + done.stderr
    assert done.returncode in (0, 1), output
    (run_dir,) = out.iterdir()
    verdict = json.loads((run_dir / "soak.json").read_text())
    left_in_tmp = sorted(p.name for p in tmpdir.iterdir())
    running = [c for c in _command_lines() if str(out) in c or str(tmpdir) in c]
    return Soak(done.returncode, output, run_dir, verdict, left_in_tmp, running)


def _command_lines() -> list[str]:
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
    return lines


def test_the_soak_leaves_no_process_and_no_temporary_folder(soak: Soak) -> None:
    assert soak.left_running == []
    assert soak.left_in_tmp == []


def test_the_soak_ran_the_seeds_timeline_with_every_kind_overlapping(soak: Soak) -> None:
    assert f"seed {SEED} (replay: paystorm soak --chaos --seed {SEED} " in soak.output
    planned = chaos_timeline(SEED, DURATION_S)
    ran = load_scenario(str(soak.run_dir / "scenario.yaml"))
    assert [(f.kind, f.start_in_s, f.duration_s, f.seed) for f in ran.faults] == [
        (f["kind"], f["start_in_s"], f["duration_s"], f["seed"]) for f in planned
    ]
    assert [dict(f.raw_params) for f in ran.faults] == [f["params"] for f in planned]
    # The gateway applied every one, every kind among them, and they overlapped.
    windows = json.loads((soak.run_dir / "faults.json").read_text())
    assert len(windows) == len(planned)
    assert {w["kind"] for w in windows} == set(REGISTRY)
    assert all(w["ended_at_s"] is not None for w in windows)
    assert soak.verdict["most_faults_at_once"] >= 3
    assert soak.verdict["seed"] == SEED and soak.verdict["kinds"] == sorted(REGISTRY)
    # Every arrival was served at this rate: the load the verdict speaks of was offered.
    assert soak.verdict["offered"] == DURATION_S * RATE
    assert soak.verdict["dropped"] == 0


@pytest.mark.parametrize(
    "check",
    [
        "the run lasted its duration",
        "the ledger audit holds",
        "no payment is left PENDING after settling",
        "resolving clients (pos)",
        "every other ghost charge is explained by a lost answer or a timeout",
        "nobody was told of a payment or refund the ledger does not hold",
        "the gateway's memory (RSS) is flat",
        "the gateway's open descriptors are flat",
        "the run's self-check passes",
    ],
)
def test_the_verdict_holds(soak: Soak, check: str) -> None:
    found = soak.check(check)
    assert found["ok"], found


def test_the_exit_status_and_last_line_name_what_failed(soak: Soak) -> None:
    failed = [c["name"] for c in soak.verdict["checks"] if not c["ok"]]
    last = soak.output.strip().splitlines()[-1]
    if failed:
        assert soak.code == 1 and last == f"soak failed: {'; '.join(failed)}"
    else:
        assert soak.code == 0 and last == "soak held"
    for c in soak.verdict["checks"]:
        assert f"{'ok  ' if c['ok'] else 'FAIL'} {c['name']}: {c['detail']}" in soak.output


def test_the_gateways_descriptors_are_sampled(soak: Soak) -> None:
    with (soak.run_dir / "gateway_metrics.csv").open() as fh:
        fds = [float(r["open_fds"]) for r in csv.DictReader(fh)]
    # The pool's connections, one per Locust user, and the ledger's files.
    assert max(fds) > RATE


# --- the command line -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--chaos", "--duration-s", "10"], "--duration-s 10: expected 30 to"),
        (["--rate", "0"], "--rate 0: expected a rate above 0"),
        (["--chaos", "--seed", "-4"], "--seed -4: expected a whole number"),
        (["--chaos", "--rate", "many"], "argument --rate: invalid float value"),
        (["--storm"], "unrecognized arguments: --storm"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusals
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("paystorm soak: ") and says in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def _plan(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["--plan", *argv]) == 0
    return capsys.readouterr().out


def test_the_plan_replays_its_seed(capsys: pytest.CaptureFixture[str]) -> None:
    first = _plan(capsys, "--chaos", "--seed", "77", "--duration-s", "300", "--rate", "150")
    assert _plan(capsys, "--chaos", "--seed", "77", "--duration-s", "300", "--rate", "150") == first
    assert _plan(capsys, "--chaos", "--seed", "78", "--duration-s", "300", "--rate", "150") != first
    data = yaml.safe_load(first)
    assert data == yaml.safe_load(yaml.safe_dump(chaos_scenario(77, 300, 150)))
    scenario = parse_scenario(data, "plan.yaml")
    assert {f.kind for f in scenario.faults} == set(REGISTRY)
    baseline = yaml.safe_load(_plan(capsys, "--seed", "77", "--duration-s", "300"))
    assert baseline["faults"] == [] and baseline["client"] == data["client"]


def test_the_sampler_records_open_descriptors() -> None:
    values = parse_sample("# TYPE process_open_fds gauge\nprocess_open_fds 4711.0\n")
    assert values["open_fds"] == 4711


# --- the verdict, on folders made here ------------------------------------------------------

VERDICT_S = 300  # windows: seconds 60-120 against 240-300


def _line(kind: str, key: str, codes: Iterable[str], code: str | None) -> PaymentLine:
    codes = list(codes)
    outcome: Outcome = "succeeded" if code is None else "failed"
    return PaymentLine(
        type=kind,
        network="normal",
        city="杭州市",
        key=key,
        payment_id=f"pay_{key}",
        user_id="u000001",
        merchant_id="m00001",
        amount=100,
        credit_shown=1000,
        had_credit=True,
        start_s=1.0,
        latency_ms=20.0,
        attempts=len(codes) or 1,
        codes=codes,
        outcome=outcome,
        code=code,
    )


def _folder(
    tmp_path: Path,
    lines: list[PaymentLine],
    captured: Iterable[str],
    *,
    rss: Callable[[int], float] = lambda t: 100 * MIB,
    fds: Callable[[int], float] | None = lambda t: 1000,
    audit: dict[str, Any] | None = None,
    reconcile: dict[str, Any] | None = None,
) -> Path:
    captured = set(captured)
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "payments.jsonl").write_bytes(b"".join(encode_line(x) for x in lines))
    ledger = [
        LedgerLine(
            f"pay_{x.key}",
            x.key,
            "SUCCEEDED" if x.key in captured else "FAILED",
            100,
            0,
            "u000001",
            "m00001",
            "bank_a",
            None,
        )
        for x in lines
    ]
    (tmp_path / "ledger.jsonl").write_bytes(b"".join(encode_line(x) for x in ledger))
    ok_audit = {"ok": True, "pending": 0, "checks": {"conservation": {"ok": True}}}
    (tmp_path / "audit.json").write_text(json.dumps(audit or ok_audit))
    clean = {"unsettled": 0, "lost_successes": 0, "lost_refunds": 0}
    (tmp_path / "reconcile.json").write_text(json.dumps(reconcile or clean))
    with (tmp_path / "gateway_metrics.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["time", "rss_bytes", *(["open_fds"] if fds else [])])
        for t in range(VERDICT_S + 20):
            writer.writerow([t, rss(t), *([fds(t)] if fds else [])])
    return tmp_path


def _judge(
    folder: Path, client: dict[str, Any] = CLIENT, broken: list[str] | None = None
) -> Verdict:
    return judge(folder, VERDICT_S, client, broken or [])


def _failed(verdict: Verdict) -> list[str]:
    return verdict.failed


def test_a_shoppers_ghost_charge_after_a_timeout_is_explained(tmp_path: Path) -> None:
    lines = [
        _line("shopper", "a", ["CLIENT_TIMEOUT", "SYSTEM_BUSY"], "SYSTEM_BUSY"),
        _line("shopper", "b", ["CONNECTION_ERROR"], "CONNECTION_ERROR"),
        _line("pos", "c", [], None),
        _line("shopper", "d", ["SYSTEM_BUSY"], "SYSTEM_BUSY"),  # not charged: no ghost
    ]
    verdict = _judge(_folder(tmp_path, lines, captured={"a", "b", "c"}))
    assert verdict.ok, [c.line() for c in verdict.checks]
    assert verdict.ghosts.others == 2 and verdict.ghosts.resolving == 0
    assert dict(verdict.ghosts.explained) == {"CLIENT_TIMEOUT": 1, "CONNECTION_ERROR": 1}


def test_a_ghost_charge_after_no_uncertain_answer_is_not(tmp_path: Path) -> None:
    lines = [_line("shopper", "a", ["SYSTEM_BUSY"], "SYSTEM_BUSY")]
    verdict = _judge(_folder(tmp_path, lines, captured={"a"}))
    assert _failed(verdict) == [
        "every other ghost charge is explained by a lost answer or a timeout"
    ]
    assert "1 after none, e.g. codes SYSTEM_BUSY" in verdict.checks[3].detail


def test_a_resolving_clients_ghost_charge_fails_whatever_explains_it(tmp_path: Path) -> None:
    lines = [
        _line("pos", "a", ["CLIENT_TIMEOUT", "IDEMPOTENCY_IN_PROGRESS"], "IDEMPOTENCY_IN_PROGRESS"),
        _line("shopper", "b", ["CLIENT_TIMEOUT"], "CLIENT_TIMEOUT"),
    ]
    folder = _folder(tmp_path, lines, captured={"a", "b"})
    verdict = _judge(folder)
    assert _failed(verdict) == ["resolving clients (pos) leave no ghost charge"]
    assert "1, told 1 IDEMPOTENCY_IN_PROGRESS" in verdict.checks[2].detail
    # With resolve_uncertain, the shoppers' apps resolve too: their ghost charge fails as well.
    resolving = _judge(folder, {**CLIENT, "resolve_uncertain": True})
    assert _failed(resolving) == ["resolving clients (pos, refund, shopper) leave no ghost charge"]
    assert resolving.ghosts.resolving == 2


def test_the_ledger_pending_payments_lost_successes_and_the_self_check(tmp_path: Path) -> None:
    lines = [_line("shopper", "a", [], None)]
    audit = {"ok": False, "pending": 2, "checks": {"conservation": {"ok": False}}}
    reconcile = {"unsettled": 2, "lost_successes": 1, "lost_refunds": 0}
    folder = _folder(tmp_path, lines, captured={"a"}, audit=audit, reconcile=reconcile)
    verdict = _judge(folder, broken=["lines = payments: second 3: 2 lines, 3 payments"])
    assert _failed(verdict) == [
        "the ledger audit holds",
        "no payment is left PENDING after settling",
        "nobody was told of a payment or refund the ledger does not hold",
        "the run's self-check passes",
    ]
    assert verdict.checks[0].detail == "failed: conservation"


def test_memory_may_grow_by_the_page_cache_and_a_margin_not_more(tmp_path: Path) -> None:
    lines = [_line("shopper", "a", [], None)]
    base = 100 * MIB
    cache_filling = _folder(
        tmp_path / "a", lines, {"a"}, rss=lambda t: base + min(t, 200) / 200 * RSS_CACHE_BYTES
    )
    assert _judge(cache_filling).ok
    leaking = _folder(tmp_path / "b", lines, {"a"}, rss=lambda t: base + t * 0.5 * MIB)
    assert _failed(_judge(leaking)) == ["the gateway's memory (RSS) is flat"]


def test_descriptors_may_churn_a_little_not_pile_up(tmp_path: Path) -> None:
    lines = [_line("shopper", "a", [], None)]
    churn = _folder(tmp_path / "a", lines, {"a"}, fds=lambda t: 1000 + (t % 7) * FDS_SLACK / 4)
    assert _judge(churn).ok
    leak = _folder(tmp_path / "b", lines, {"a"}, fds=lambda t: 1000 + t)
    assert _failed(_judge(leak)) == ["the gateway's open descriptors are flat"]
    unsampled = _judge(_folder(tmp_path / "c", lines, {"a"}, fds=None))
    assert _failed(unsampled) == ["the gateway's open descriptors are flat"]
    assert "not sampled" in unsampled.checks[6].detail

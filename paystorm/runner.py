"""`paystorm run`: one scenario end to end — gateway, Locust, results folder, report.

The runner talks to the other stages only through processes, HTTP and files."""

from __future__ import annotations

import json
import math
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from msgspec.structs import replace

from contract.admin import TOKEN_ENV, AdminClient, AdminError
from contract.lines import LedgerLine, LineError, decode_ledger_line, read_lines
from contract.profile import apply_overrides
from contract.reconcile import reconcile
from contract.runfolder import LEDGER_DB, RunFolder
from contract.target import check_target, is_loopback
from fault_proxy.kinds import refusal as proxy_refusal
from locustfiles.client.adapter import Adapter
from paystorm.adapted import adapter_of, captured
from paystorm.fdlimit import files_needed, raise_open_files
from paystorm.processes import (
    Child,
    SetupError,
    TempFolder,
    locust_command,
    spawn,
    start_gateway,
    start_proxy,
)
from paystorm.progress import Progress
from paystorm.sampler import MetricsSampler
from scenarios.loader import dump, load_scenario
from scenarios.model import Scenario
from scenarios.people import run_key_prefix
from scenarios.pool import Pool, longest_person_of, pool_of

STARTUP_GRACE_S = 60.0  # Locust's own start, on a loaded machine
# gevent resolves names on a thread pool by default: every new connection (one per timed-out
# request) would take a thread hop and a GIL handover. The target is an address or a name
# from /etc/hosts, which the plain resolver answers at once.
LOCUST_ENV = {"GEVENT_RESOLVER": "block"}
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class RunOptions:
    scenario: str
    out: Path = Path("results")
    speed: float | None = None
    target: str | None = None
    allow_remote: bool = False
    admin_token: str | None = None
    verbose: bool = False
    processes: int = 1
    """Locust processes: above 1, a master and this many workers (Locust's --processes)."""
    workers: int = 0
    """Workers started elsewhere (`paystorm worker`) the master waits for; 0: none."""
    master_bind: str = "127.0.0.1"
    """Where the master listens for workers: loopback unless --allow-remote says otherwise."""
    master_port: int = 0
    """0: a free port."""
    time_cap_s: float | None = None
    """The hard cap on the whole run; None: the scenario's duration, the time its last
    payments may take and Locust's start."""
    audit: bool = True
    """Audit the ledger once PENDING payments settle; False: no audit.json (a capacity step
    is judged on success and latency, and the audit costs seconds per step)."""


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    stop_reason: str
    exit_code: int


def utc_stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y%m%dT%H%M%SZ")


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_run_dir(out: Path, name: str) -> Path:
    out = out.resolve()  # Locust runs inside the folder: relative paths would move
    out.mkdir(parents=True, exist_ok=True)
    base = out / f"{name}-{utc_stamp(time.time())}"
    run_dir, n = base, 1
    while run_dir.exists():
        n += 1
        run_dir = base.with_name(f"{base.name}-{n}")
    run_dir.mkdir()
    return run_dir


def stop_timeout_s(scenario: Scenario) -> int:
    """Long enough for the slowest person in flight at the end to finish every attempt,
    back-off, resolve and reversal (whole seconds: Locust's --stop-timeout takes no fraction)."""
    return math.ceil(longest_person_of(scenario)) + 1


@dataclass(frozen=True)
class Distribution:
    """How Locust is spread: one process, forked workers, or workers elsewhere."""

    processes: int = 1
    workers: int = 0
    bind: str = "127.0.0.1"
    port: int = 0

    def argv(self) -> list[str]:
        if self.processes <= 1 and not self.workers:
            return []
        listen = ["--master-bind-host", self.bind, "--master-bind-port", str(self.port)]
        if self.workers:
            wait = f"{STARTUP_GRACE_S:g}"
            return [
                "--master",
                "--expect-workers",
                str(self.workers),
                *listen,
                "--expect-workers-max-wait",
                wait,
            ]
        # Forked workers connect to --master-port, the master listens on its bind port.
        return ["--processes", str(self.processes), *listen, "--master-port", str(self.port)]


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def locust_argv(
    scenario: Scenario,
    url: str,
    run_dir: Path,
    verbose: bool,
    distribution: Distribution = Distribution(),
    key_prefix: str | None = None,
) -> list[str]:
    argv = locust_command(
        "--headless",
        "--host",
        url,
        "--scenario",
        str(RunFolder(run_dir).scenario),
        "--results-dir",
        str(run_dir),
        "--csv",
        str(RunFolder(run_dir).locust_csv_prefix),
        "--html",
        str(RunFolder(run_dir).locust_html),
        "--stop-timeout",
        str(stop_timeout_s(scenario)),
        "--exit-code-on-error",
        "0",
    )
    argv += distribution.argv()
    if key_prefix:
        argv += ["--key-prefix", key_prefix]
    if not verbose:
        argv += ["--only-summary", "--loglevel", "WARNING"]
    return argv


def execute(options: RunOptions) -> RunOutcome:
    """Run one scenario; raises ScenarioError or SetupError for the user's mistakes."""
    scenario = load_scenario(options.scenario)
    if options.speed is not None:
        if options.speed <= 0:
            raise SetupError(f"--speed {options.speed:g}: expected a number above 0")
        scenario = replace(scenario, speed=options.speed)
    target = _target(options, scenario)
    _check_proxy_faults(options.scenario, scenario)
    adapter = adapter_of(options.scenario, scenario)
    distribution = _distribution(options)
    pool = _size_pool(scenario)
    run_dir = make_run_dir(options.out, scenario.name)
    folder = RunFolder(run_dir)
    folder.scenario.write_text(dump(scenario), encoding="utf-8")
    token = options.admin_token or secrets.token_urlsafe(24)
    # The ledger's folder; a run killed before its cleanup leaves it to the next run's sweep.
    scratch = TempFolder("paystorm-run-")
    gateway: Child | None = None
    proxy: Child | None = None
    locust: Child | None = None
    sampler: MetricsSampler | None = None
    stop_reason, stop_detail = "completed", None
    started = time.time()
    restore = _terminate_as_interrupt()
    try:
        if target is None:
            pop = scenario.population
            config = None
            if scenario.gateway:
                config = folder.gateway_config
                config.write_text(yaml.safe_dump(scenario.gateway, sort_keys=False))
            gateway, url = start_gateway(
                run_dir,
                scratch.path / LEDGER_DB,
                token,
                seed=pop.seed,
                accounts=pop.accounts,
                merchants=pop.merchants,
                config=config,
            )
        else:
            url = target
            if scenario.gateway:
                print(
                    f"{scenario.name}: note: the scenario's gateway overrides apply only to "
                    "the embedded gateway, not to --target",
                    flush=True,
                )
        upstream = url
        if scenario.target.proxy:
            # The load and the fault timeline go through the proxy; the ledger's own routes
            # (audit, export, metrics) are asked of the service behind it.
            proxy, url = start_proxy(run_dir, upstream, token, allow_remote=options.allow_remote)
        sampler = MetricsSampler(upstream)
        sampler.start()
        locust = spawn(
            "locust",
            locust_argv(
                scenario,
                url,
                run_dir,
                options.verbose,
                distribution,
                # A fresh gateway: the seed's own keys, so every run starts the same payments.
                run_key_prefix(scenario.population.seed) if target is None else None,
            ),
            folder.locust_log,
            cwd=run_dir,
            echo=options.verbose,
            env={TOKEN_ENV: token, **LOCUST_ENV},  # the token: never on a command line
        )
        if distribution.workers:
            host = distribution.bind if distribution.bind not in ("*", "0.0.0.0") else "HOST"
            print(
                f"{scenario.name}: waiting up to {STARTUP_GRACE_S:.0f} s for "
                f"{distribution.workers} worker(s): paystorm worker --master-host {host} "
                f"--master-port {distribution.port}",
                flush=True,
            )
        cap_s = options.time_cap_s or (
            scenario.run_duration_s + stop_timeout_s(scenario) + STARTUP_GRACE_S
        )
        progress = Progress(run_dir, scenario, enabled=not options.verbose)
        try:
            while locust.alive():
                if time.time() - started > cap_s:
                    stop_reason = "time_cap"
                    stop_detail = f"the run passed its hard cap of {cap_s:.0f} s"
                    break
                progress.tick()
                time.sleep(0.25)  # polling the child and the progress file
        except KeyboardInterrupt:
            stop_reason, stop_detail = "interrupted", "stopped with Ctrl-C"
        progress.done()
        # SIGINT lets Locust stop its users and write its files; the grace covers payments
        # still in flight.
        locust.stop(signal.SIGINT, grace_s=stop_timeout_s(scenario) + 15)
        sampler.stop()
        if not folder.outcomes.exists():
            raise SetupError(
                f"Locust wrote no outcomes: {_last_line(folder.locust_log)} "
                f"(see {folder.locust_log})"
            )
        setup_error = _read_json(folder.setup_error)
        if setup_error is not None:
            raise SetupError(str(setup_error.get("reason")))
        guard = _read_json(folder.guard)
        if guard is not None and stop_reason == "completed":
            stop_reason, stop_detail = "guard", str(guard.get("reason"))
        t0 = float((_read_json(folder.clock) or {"t0_unix": started})["t0_unix"])
        admin = AdminClient(upstream, token, timeout_s=120)
        faulted = AdminClient(url, token, timeout_s=120)  # the proxy, when one is in the path
        _write_fault_windows(faulted, t0, folder.faults)
        if target is not None and scenario.faults and proxy is None:
            _leave_clean(admin)
        settle_s = apply_overrides(scenario.gateway).settle_delay_s if target is None else 15.0
        if options.audit and scenario.client.adapter is None:  # only the mock has an audit
            _write_audit(admin, folder.audit, settle_s + 5.0)
        _write_reconciliation(admin, folder, adapter)
    except SetupError as exc:
        # The folder says why it holds no results; the caller prints the same line.
        failed = {"scenario": scenario.name, "stop_reason": "error", "stop_detail": str(exc)}
        folder.run.write_text(json.dumps(failed, indent=2) + "\n")
        raise
    finally:
        # Bounded, and not cut short by a second Ctrl-C: a child left running here would
        # outlive the run with its port and database.
        _ignore_stop_signals()
        try:
            if sampler is not None:
                sampler.stop()
            if locust is not None:
                locust.stop(signal.SIGKILL, grace_s=5)
            if proxy is not None:
                proxy.stop(signal.SIGTERM, grace_s=10)
            if gateway is not None:
                gateway.stop(signal.SIGTERM, grace_s=20)
            scratch.remove()
        finally:
            restore()
    clock = _read_json(folder.clock) or {"t0_unix": started}
    t0 = float(clock["t0_unix"])
    if sampler is not None:
        sampler.write(folder.gateway_metrics, t0)
    ended = time.time()
    run_info: dict[str, Any] = {
        "scenario": scenario.name,
        "started_at": iso(t0),
        "ended_at": iso(ended),
        "duration_s": round(ended - t0, 2),
        "target": upstream if proxy is not None else url,
        "proxy": url if proxy is not None else None,
        "embedded_gateway": target is None,
        "stop_reason": stop_reason,
        "stop_detail": stop_detail,
        "locust_exit_code": locust.proc.returncode if locust else None,
        "pool": pool.as_json() if pool is not None else None,
    }
    folder.run.write_text(json.dumps(run_info, indent=2) + "\n")
    code = EXIT_INTERRUPTED if stop_reason == "interrupted" else 0
    return RunOutcome(run_dir, stop_reason, code)


def _target(options: RunOptions, scenario: Scenario) -> str | None:
    """The service to load instead of the embedded gateway: --target, else the scenario's
    `target.url`; each under the loopback rule."""
    allow = options.allow_remote
    if options.target:
        return check_target(options.target, allow_remote=allow)
    if scenario.target.url:
        return check_target(scenario.target.url, allow_remote=allow, option="target.url")
    return None


def _check_proxy_faults(source: str, scenario: Scenario) -> None:
    """With the proxy in the path, every fault must be one it can apply: one line naming the
    fault that is not."""
    if not scenario.target.proxy:
        return
    for i, fault in enumerate(scenario.faults):
        reason = proxy_refusal(fault.kind)
        if reason is not None:
            raise SetupError(f"{source}: faults[{i}].kind: {reason}")


def _size_pool(scenario: Scenario) -> Pool | None:
    """The open model's pool, and the open files it needs (raised here, for the gateway and
    Locust to inherit). A pool the scenario keeps smaller than its need is its author's
    choice: said once, then measured (its drops count against the run)."""
    if scenario.load.model != "arrival-rate":
        raise_open_files(0, scenario.name)  # as far as allowed: users' connections add up
        return None
    pool = pool_of(scenario)
    if pool.short:
        print(
            f"{scenario.name}: warning: load.max_users {pool.users:,} is below the "
            f"{pool.need.describe()} this scenario can need; arrivals that find every user "
            "busy are dropped and counted as not served",
            flush=True,
        )
    raise_open_files(
        files_needed(scenario, pool.users), f"{scenario.name}: a pool of {pool.users:,} users"
    )
    return pool


def _distribution(options: RunOptions) -> Distribution:
    if options.processes > 1 and options.workers:
        raise SetupError("--processes and --workers: expected one of them, not both")
    bind = options.master_bind
    if not options.allow_remote and not is_loopback(bind):
        raise SetupError(
            f"--master-bind {bind}: not a loopback address; workers on other machines need "
            "--allow-remote"
        )
    port = options.master_port
    if port == 0 and (options.processes > 1 or options.workers):
        port = free_port("127.0.0.1" if bind in ("*", "0.0.0.0") else bind)
    return Distribution(options.processes, options.workers, bind, port)


def _terminate_as_interrupt() -> Callable[[], None]:
    """SIGTERM (a supervisor, `timeout`, CI) stops the run as Ctrl-C does: the children are
    stopped and what was measured is kept. Returns what puts the previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signal handlers belong to the main thread
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)

    def restore() -> None:
        for sig, handler in saved.items():
            signal.signal(sig, handler)

    return restore


def _ignore_stop_signals() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1] if lines else "no output"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _leave_clean(admin: AdminClient) -> None:
    """Take the run's faults off a shared gateway."""
    try:
        admin.clear_faults()
    except AdminError as exc:
        print(f"note: could not clear the run's faults: {exc}", file=sys.stderr, flush=True)


def _write_audit(admin: AdminClient, dest: Path, settle_s: float) -> None:
    """The ledger audit once the gateway has settled the run's PENDING payments (bounded)."""
    deadline = time.monotonic() + settle_s
    try:
        audit = admin.audit()
        while audit.get("pending") and time.monotonic() < deadline:
            time.sleep(0.5)  # PENDING payments settle on the gateway's own schedule
            audit = admin.audit()
    except AdminError as exc:
        audit = {"ok": False, "error": f"could not fetch the audit: {exc}"}
    dest.write_text(json.dumps(audit, indent=2) + "\n")


def _write_reconciliation(admin: AdminClient, folder: RunFolder, adapter: Adapter) -> None:
    """ledger.jsonl (this run's payments as the ledger, or the adapter's API, has them) and
    reconcile.json; it says why when there is nothing to cross-check with."""
    keys = [line.key for line in read_lines(folder.payments)]
    if not keys:
        return
    # Every key of a run starts with the run's prefix: their common prefix selects the run.
    prefix = os.path.commonprefix(keys)  # noqa: RUF071  (characters, on purpose)
    ledger: dict[str, LedgerLine] = {}
    try:
        with captured(adapter, admin, prefix) as rows, folder.ledger.open("wb") as out:
            for raw in rows:
                out.write(raw)
                row = decode_ledger_line(raw)
                ledger[row.key] = row
    except (AdminError, OSError, LineError, LookupError) as exc:
        folder.reconcile.write_text(
            json.dumps({"error": f"could not read the ledger: {exc}"}) + "\n"
        )
        return
    result = reconcile(read_lines(folder.payments), ledger)
    folder.reconcile.write_text(json.dumps(result.as_json(), indent=2) + "\n")


def _write_fault_windows(admin: AdminClient, t0_unix: float, dest: Path) -> None:
    """The fault windows the gateway applied, in seconds of the run's clock."""
    try:
        events = admin.events()
    except AdminError:
        events = []
    windows = [
        {
            "id": e["id"],
            "kind": e["kind"],
            "started_at_s": round(e["started_unix"] - t0_unix, 3),
            "ended_at_s": None if e["ended_unix"] is None else round(e["ended_unix"] - t0_unix, 3),
        }
        for e in events
        if e.get("started_unix") is not None
    ]
    dest.write_text(json.dumps(windows, indent=2) + "\n")

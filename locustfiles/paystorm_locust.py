"""The locustfile paystorm runs: `locust -f locustfiles/paystorm_locust.py --scenario FILE`.

It wires the run context, the per-second recorder, the progress file and the guard into
Locust's events; the users and the shape live in their own modules. In the web UI the scenario
is picked in the start form, so each test started there gets a fresh context built from it."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent.socket import wait_read
from locust import between, events
from locust.env import Environment
from locust.log import greenlet_exception_logger
from locust.runners import MasterRunner, WorkerRunner

from contract import lifeline, runfolder
from locustfiles import connections
from locustfiles.arrivals import ArrivalExecutor, wait_for_arrival
from locustfiles.client.adapter import AdapterError
from locustfiles.client.adapter import load as load_adapter
from locustfiles.context import RunContext, cities, context_of, target_population
from locustfiles.customers import Customer
from locustfiles.distributed import Master, Worker
from locustfiles.outcomes import Recorder
from locustfiles.shape import ScenarioShape
from locustfiles.timeline import TimelineError, remove_faults, schedule_faults
from locustfiles.web_ui import install as install_web_ui
from scenarios.loader import ScenarioError, catalogue, load_scenario, resolve_path
from scenarios.model import Scenario
from scenarios.pool import pool_of

__all__ = ["Customer", "ScenarioShape"]

connections.install()  # before any user opens a connection
# Read at import, in the process Locust starts in: the workers it forks (--processes) share
# the descriptor, and end with it as well.
_LIFELINE = lifeline.inherited()
lifeline.forks_die_with_this_process(signal.SIGKILL)

CONNECT_GRACE_S = 120.0  # for the whole pool to open its connections before second 0


class ScenarioChoices(list[str]):
    """The web UI's scenario dropdown lists the catalogue; the command line also takes any
    scenario file, as `paystorm run` passes the resolved copy in its results folder."""

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        return super().__contains__(value) or resolve_path(value).is_file()


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.add_argument(
        "--scenario",
        default="steady",
        choices=ScenarioChoices(catalogue()),
        metavar="NAME_OR_FILE",
        help="its load shape and fault timeline",
    )
    parser.add_argument(
        "--results-dir",
        default="",
        include_in_web_ui=False,
        help="where outcomes.csv and payments.jsonl go (none: nothing is written)",
    )
    parser.add_argument(
        "--key-prefix",
        default="",
        include_in_web_ui=False,
        help="what every idempotency key starts with (none: a fresh one per run, so runs "
        "against one gateway never share keys)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        include_in_web_ui=False,
        help="let the web UI's host field and chaos panel reach a target that is not loopback",
    )


@events.init.add_listener
def _end_with_the_runner(**_: Any) -> None:
    """Locust whose runner died (kill -9) exits at once: nobody would read its results."""
    if _LIFELINE is not None:
        gevent.spawn(_watch_lifeline, _LIFELINE)


def _watch_lifeline(fd: int) -> None:
    wait_read(fd)
    while not lifeline.cut(fd):
        wait_read(fd)
    logging.getLogger(__name__).warning("paystorm: the process that started Locust is gone")
    os._exit(1)


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    try:
        use_scenario(environment, load_scenario(options.scenario if options else "steady"))
    except ScenarioError as exc:
        raise SystemExit(f"paystorm: {exc}") from None
    environment.events.spawning_complete.add_listener(lambda **_: _load_begins(environment))
    if isinstance(environment.runner, WorkerRunner):
        # The master sends the scenario it runs; this worker's own options do not matter.
        Worker(environment, lambda scenario: use_scenario(environment, scenario))
    if environment.web_ui is not None:
        install_web_ui(
            environment,
            lambda scenario: use_scenario(environment, scenario),
            allow_remote=bool(options and options.allow_remote),
        )


def use_scenario(environment: Environment, scenario: Scenario) -> RunContext:
    """A fresh run context for `scenario`: at init, and again for every test the web UI starts."""
    options = environment.parsed_options
    runner = environment.runner
    current = getattr(environment, "paystorm", None)
    if (
        isinstance(runner, MasterRunner)
        and isinstance(current, RunContext)
        and current.scenario != scenario
    ):
        raise ScenarioError(
            f"{scenario.name}: with workers, Locust runs only the scenario it started with "
            f"({current.scenario.name})"
        )
    worker = isinstance(runner, WorkerRunner)
    results = Path(options.results_dir) if options and options.results_dir and not worker else None
    ctx = RunContext(scenario=scenario, results_dir=results)
    try:
        ctx.adapter = load_adapter(scenario.client.adapter)
    except AdapterError as exc:
        raise ScenarioError(f"{scenario.name}: {exc}") from None
    # Loaded now, not by the first person after second 0 (Faker's import costs 25 ms).
    ctx.city_names = cities(scenario.population.seed)
    ctx.key_prefix = (options and options.key_prefix) or hashlib.blake2s(
        f"{results or os.getpid()}:{time.time_ns()}".encode(), digest_size=4
    ).hexdigest()
    if isinstance(runner, MasterRunner):
        master = getattr(environment, "paystorm_master", None)
        if master is None:
            environment.paystorm_master = Master(environment, ctx)  # type: ignore[attr-defined]
        else:
            master.bind(ctx)
    runners_log = logging.getLogger("locust.runners")
    if scenario.load.model == "arrival-rate":
        ctx.pool_users = pool_of(scenario).users
        if not isinstance(runner, MasterRunner):  # the master's workers run the arrivals
            ctx.arrivals = ArrivalExecutor(ctx)
        Customer.wait_time = wait_for_arrival
        runners_log.addFilter(_QUIET_POOL_SPAWN)
    else:
        low, high = scenario.load.think_time_s
        Customer.wait_time = between(low, high)
        runners_log.removeFilter(_QUIET_POOL_SPAWN)
    environment.paystorm = ctx  # type: ignore[attr-defined]
    return ctx


class _QuietPoolSpawn(logging.Filter):
    """The open model's shape spawns the whole pool in one go on purpose; Locust's advice
    against a high spawn rate would only alarm."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "spawn rate is very high" not in record.getMessage()


_QUIET_POOL_SPAWN = _QuietPoolSpawn()  # one instance: adding it twice is a no-op


@events.test_start.add_listener
def _test_start(environment: Environment, **_: Any) -> None:
    ctx = context_of(environment)
    population = target_population(environment.host or "")
    ctx.accounts = population.get("accounts", ctx.scenario.population.accounts)
    ctx.merchants = population.get("merchants", ctx.scenario.population.merchants)
    if isinstance(environment.runner, WorkerRunner):
        return  # second 0 and the outcomes are the master's
    if ctx.scenario.load.model == "users":
        # Closed model: users start with the test.
        master = _master(environment)
        if master is not None:
            master.start()
        else:
            ctx.t0 = time.time()
            ctx.started = True
    if ctx.results_dir is not None:
        ctx.results_dir.mkdir(parents=True, exist_ok=True)
        ctx.payments_log = (ctx.results_dir / runfolder.PAYMENTS).open("wb")
        ctx.recorder = Recorder(ctx.payments_log)
    if ctx.started:
        _write_json(ctx, runfolder.CLOCK, {"t0_unix": ctx.t0})
        _put_faults_on_the_clock(environment, ctx)
        gevent.spawn(_every_second, environment, ctx)


def _load_begins(environment: Environment) -> None:
    """Open model: second 0 is when the whole pool is up and connected, so no arrival waits
    for a spawn or a handshake."""
    ctx = context_of(environment)
    if ctx.started or ctx.scenario.load.model != "arrival-rate" or ctx.connecting:
        return  # the pool is spawned once; a later spawning_complete changes nothing
    if isinstance(environment.runner, WorkerRunner):
        return  # the master says when second 0 is
    ctx.connecting = True
    gevent.spawn(_begin_when_connected, environment, ctx).link_exception(
        _stop_on_crash(environment)
    )


def _begin_when_connected(environment: Environment, ctx: RunContext) -> None:
    master = _master(environment)
    deadline = time.monotonic() + CONNECT_GRACE_S
    while time.monotonic() < deadline and not ctx.stopped:
        connected = master.connected() if master is not None else ctx.connected
        if connected >= ctx.pool_users:
            break
        gevent.sleep(0.05)
    else:
        if ctx.stopped:
            return
        logging.getLogger(__name__).warning(
            "paystorm: %d of %d users connected after %.0f s; the load begins anyway",
            master.connected() if master is not None else ctx.connected,
            ctx.pool_users,
            CONNECT_GRACE_S,
        )
    # What exists now (Locust, the pool) lives to the end: frozen, a full collection during
    # the load skips it and stalls the schedule for a few ms instead of 20-50.
    gc.collect()
    gc.freeze()
    if master is not None:
        master.start()
    else:
        assert ctx.arrivals is not None
        ctx.t0 = time.time()
        ctx.started = True
        ctx.arrivals.start().link_exception(_stop_on_crash(environment))
    _write_json(ctx, runfolder.CLOCK, {"t0_unix": ctx.t0})
    _put_faults_on_the_clock(environment, ctx)
    gevent.spawn(_every_second, environment, ctx)


def _master(environment: Environment) -> Master | None:
    return getattr(environment, "paystorm_master", None)


def _put_faults_on_the_clock(environment: Environment, ctx: RunContext) -> None:
    """Faults start relative to second 0; a run whose faults cannot be applied would measure
    something else than it says, so it stops with the reason."""
    try:
        ctx.fault_ids = schedule_faults(environment.host or "", ctx.scenario, ctx.t0)
    except TimelineError as exc:
        logging.getLogger(__name__).error("paystorm: %s", exc)
        _write_json(ctx, runfolder.SETUP_ERROR, {"reason": f"faults not applied: {exc}"})
        _end_run(environment)


def _end_run(environment: Environment) -> None:
    """Headless, Locust ends and the runner collects the results; in the web UI the test stops
    and the UI stays (stopping from its own greenlet, so a spawn in progress ends first)."""
    runner = environment.runner
    if runner is None:
        return
    master = _master(environment)
    end = runner.quit if environment.web_ui is None else runner.stop

    def finish_then_end() -> None:
        if master is not None:  # the workers' last outcomes first
            master.finish(environment.stop_timeout or 0.0)
        end()

    if environment.web_ui is None and master is None:
        runner.quit()
    else:
        gevent.spawn(finish_then_end)


def _stop_on_crash(environment: Environment) -> Callable[[gevent.Greenlet[[], None]], None]:
    log = greenlet_exception_logger(logging.getLogger(__name__))

    def crashed(greenlet: gevent.Greenlet[[], None]) -> None:
        log(greenlet)  # a run without its arrivals would measure nothing: stop it
        _end_run(environment)

    return crashed


def _every_second(environment: Environment, ctx: RunContext) -> None:
    """Users per second, the live progress line's numbers, and the guard."""
    guard = ctx.scenario.guard
    low_since: float | None = None
    runner = environment.runner
    assert runner is not None
    while not ctx.stopped:
        gevent.sleep(1.0 - (ctx.now_s() % 1.0))
        if ctx.stopped:
            return
        now = ctx.now_s()
        if ctx.arrivals is not None:
            users = ctx.arrivals.busy  # the executor samples it into outcomes itself
        else:
            users = runner.user_count  # the master's: every worker's, as they last reported
            if ctx.scenario.load.model == "users":
                ctx.recorder.users(now - 0.5, users)
        live = ctx.recorder.take_live()
        rate = None
        if live["had_credit"]:
            rate = 1 - live["had_credit_failed"] / live["had_credit"]
        _write_json(
            ctx,
            runfolder.PROGRESS,
            {
                "elapsed_s": round(now, 1),
                "duration_s": ctx.scenario.run_duration_s,
                "users": users,
                "started_per_s": live["started"],
                "finished_per_s": live["finished"],
                "succeeded_per_s": live["succeeded"],
                "dropped_per_s": live["dropped"],
                "success_rate": rate,
            },
        )
        if guard.min_success_rate is None or rate is None:
            continue
        if rate >= guard.min_success_rate:
            low_since = None
            continue
        low_since = now if low_since is None else low_since
        if now - low_since >= guard.for_s:
            reason = (
                f"success rate below {guard.min_success_rate:.0%} for "
                f"{now - low_since:.0f} s (last second {rate:.0%})"
            )
            _write_json(ctx, runfolder.GUARD, {"at_s": round(now, 1), "reason": reason})
            logging.getLogger(__name__).warning("paystorm: guard: %s", reason)
            _end_run(environment)
            return


def _write_json(ctx: RunContext, name: str, data: dict[str, Any]) -> None:
    if ctx.results_dir is None:
        return
    tmp = ctx.results_dir / f".{name}.tmp"
    tmp.write_text(json.dumps(data))
    tmp.replace(ctx.results_dir / name)


@events.test_stopping.add_listener
def _test_stopping(environment: Environment, **_: Any) -> None:
    ctx = context_of(environment)
    if ctx.arrivals is not None:
        ctx.arrivals.close()  # before the users stop: no new arrivals for them


@events.test_stop.add_listener
def _test_stop(environment: Environment, **_: Any) -> None:
    ctx = context_of(environment)
    ctx.stopped = True
    if ctx.arrivals is not None:
        gc.unfreeze()  # the web UI may start another test in this process
    if environment.web_ui is not None and ctx.fault_ids:
        # A stopped run's timeline must not fire into the next test started from the UI.
        remove_faults(environment.host or "", ctx.fault_ids)
        ctx.fault_ids = []
    if isinstance(environment.runner, WorkerRunner):
        return  # its outcomes went to the master
    ctx.recorder.close_open(ctx.now_s())
    if ctx.payments_log is not None:
        ctx.payments_log.close()
        ctx.payments_log = None
    if ctx.results_dir is not None:
        ctx.recorder.write_outcomes(ctx.results_dir / runfolder.OUTCOMES)

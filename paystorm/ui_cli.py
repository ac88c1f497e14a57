"""`paystorm ui`: the embedded gateway (or --target) and Locust's web UI, where the scenario is
picked on the start page, the payments are watched live and faults added and cleared beside
them; every test started there leaves a results folder and a report as `paystorm run` does.
Ctrl-C stops everything it started.

Exit 0 when stopped with Ctrl-C or SIGTERM, 2 on a usage or setup error (one line)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import yaml

from contract import runfolder
from contract.admin import TOKEN_ENV
from contract.argparsing import ArgumentParser, fail
from contract.target import TargetError, add_target_arguments, check_target
from paystorm.fdlimit import raise_open_files
from paystorm.processes import (
    Child,
    SetupError,
    TempFolder,
    locust_command,
    spawn,
    start_gateway,
    wait_healthy,
)
from paystorm.runner import LOCUST_ENV, Distribution
from paystorm.runner import free_port as free_master_port
from paystorm.sampler import MetricsSampler
from paystorm.ui_runs import UiRuns
from scenarios.loader import ScenarioError, catalogue, load_scenario, resolve_path
from scenarios.model import Scenario

PROG = "paystorm ui"
WEB_HOST = "127.0.0.1"  # the UI holds the admin token's power: never beyond this machine
DEFAULT_WEB_PORT = 8089
START_TIMEOUT_S = 60.0  # Locust's or a --target's start, on a loaded machine
POLL_S = 0.25  # how often the children are checked
MAX_PROCESSES = 64


@dataclass(frozen=True)
class UiOptions:
    scenario: str = "steady"
    target: str | None = None
    allow_remote: bool = False
    web_port: int = DEFAULT_WEB_PORT
    verbose: bool = False
    out: Path = Path("results")
    processes: int = 1


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Start the gateway and Locust's web UI: pick a scenario, press Start, "
        "watch the payments live and add or clear faults beside them.",
    )
    p.add_argument(
        "--scenario",
        default="steady",
        metavar="NAME_OR_FILE",
        help="the scenario selected at first; the embedded gateway takes its population and "
        f"gateway settings (one of {', '.join(catalogue())}, or a YAML file; default: steady)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("results"),
        help="folder for the run folders of tests started in the UI (default: results/)",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="Locust processes generating the load: N workers and a master, whose merged "
        "numbers the UI shows (default 1)",
    )
    add_target_arguments(
        p, "allow a --target (or a host typed in the UI) that is not on this machine"
    )
    p.add_argument(
        "--web-port",
        type=int,
        default=DEFAULT_WEB_PORT,
        help=f"port of the web UI on {WEB_HOST} (default: {DEFAULT_WEB_PORT}; 0: any free port)",
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="show Locust's own log in this terminal"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 1 <= args.processes <= MAX_PROCESSES:
        return fail(PROG, f"--processes {args.processes}: expected 1 to {MAX_PROCESSES}")
    scenario = args.scenario
    if scenario not in catalogue() and resolve_path(scenario).is_file():
        scenario = str(resolve_path(scenario).resolve())  # Locust runs in another folder
    options = UiOptions(
        scenario=scenario,
        target=args.target,
        allow_remote=args.allow_remote,
        web_port=args.web_port,
        verbose=args.verbose,
        out=args.out.resolve(),
        processes=args.processes,
    )
    try:
        serve(options)
    except (ScenarioError, SetupError, TargetError) as exc:
        return fail(PROG, str(exc))
    return 0


def serve(options: UiOptions) -> None:
    """Run until Ctrl-C or SIGTERM; raises SetupError when something cannot start or dies."""
    scenario = load_scenario(options.scenario)
    target = None
    if options.target:
        target = check_target(options.target, allow_remote=options.allow_remote)
    port = free_port(options.web_port)
    raise_open_files(0, PROG)  # as far as allowed: a sale's pool holds thousands of connections
    token = os.environ.get(TOKEN_ENV, "") if target else secrets.token_urlsafe(24)
    scratch = TempFolder("paystorm-ui-")  # ledger and logs, gone at exit (or at a later sweep)
    work = scratch.path
    children: list[tuple[Child, int]] = []  # each with the signal that stops it cleanly
    sampler: MetricsSampler | None = None
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    # Set here, not inherited: a shell that started us in the background ignores SIGINT.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if target is None:
            gateway, url = _start_gateway(work, scenario, token)
            children.append((gateway, signal.SIGTERM))
        else:
            url = target
            wait_healthy(url, time.monotonic() + START_TIMEOUT_S)
            if not token:
                print(
                    f"{PROG}: note: ${TOKEN_ENV} is not set; the chaos panel and the "
                    "scenarios' fault timelines need the target's admin token",
                    flush=True,
                )
        sampler = MetricsSampler(url)
        sampler.start()
        runs = UiRuns(options.out, url, token, embedded=target is None, sampler=sampler)
        locust = spawn(
            "locust",
            locust_argv(url, port, options),
            work / runfolder.LOCUST_LOG,
            cwd=work,
            echo=options.verbose,
            # The token for the chaos controls and timelines: never on a command line.
            env={TOKEN_ENV: token, **LOCUST_ENV},
        )
        children.append((locust, signal.SIGINT))
        ui = f"http://{WEB_HOST}:{port}"
        wait_for_ui(ui, locust, options.processes if options.processes > 1 else 0)
        print(
            f"{PROG}: Locust web UI on {ui} (pick a scenario, press Start)\n"
            f"{PROG}: live payments and chaos controls on the same page, gateway {url}\n"
            f"{PROG}: results go to {options.out}\n"
            f"{PROG}: Ctrl-C stops both",
            flush=True,
        )
        while all(child.alive() for child, _ in children):
            for folder, report in runs.poll():
                print(f"{PROG}: {folder.name}: report {report}", flush=True)
            time.sleep(POLL_S)
        dead = next(child for child, _ in children if not child.alive())
        raise SetupError(f"{dead.name} exited unexpectedly: {_last_line(dead)}")
    except KeyboardInterrupt:
        print(f"{PROG}: stopping", flush=True)
    finally:
        # A second Ctrl-C must not leave the children running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if sampler is not None:
            sampler.stop()
        for child, stop_signal in reversed(children):  # Locust first, while the gateway is up
            child.stop(stop_signal, grace_s=15)
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])
        scratch.remove()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _start_gateway(work: Path, scenario: Scenario, token: str) -> tuple[Child, str]:
    config = None
    if scenario.gateway:
        config = work / runfolder.GATEWAY_CONFIG
        config.write_text(yaml.safe_dump(scenario.gateway, sort_keys=False))
    pop = scenario.population
    return start_gateway(
        work,
        work / runfolder.LEDGER_DB,
        token,
        seed=pop.seed,
        accounts=pop.accounts,
        merchants=pop.merchants,
        config=config,
    )


def locust_argv(url: str, port: int, options: UiOptions) -> list[str]:
    argv = locust_command(
        "--host",
        url,
        "--web-host",
        WEB_HOST,
        "--web-port",
        str(port),
        "--scenario",
        options.scenario,
        "--results-dir",
        str(options.out),
    )
    if options.processes > 1:
        argv += Distribution(options.processes, port=free_master_port("127.0.0.1")).argv()
    return argv + (["--allow-remote"] if options.allow_remote else [])


def free_port(port: int) -> int:
    """`port` when nothing listens on it (0: any free one); SetupError otherwise."""
    if not 0 <= port <= 65535:
        raise SetupError(f"--web-port {port}: expected a port number 0..65535")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Locust binds it
        try:
            sock.bind((WEB_HOST, port))
        except OSError as exc:
            raise SetupError(
                f"--web-port {port}: cannot listen on {WEB_HOST}:{port} ({exc.strerror}); "
                "pick another port, or 0 for any free one"
            ) from None
        return int(sock.getsockname()[1])


def wait_for_ui(ui: str, locust: Child, workers: int = 0) -> None:
    """Until the UI answers and, with workers, every one has connected to the master (Locust
    refuses to start a distributed test before)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not locust.alive():
            raise SetupError(f"Locust exited before its web UI served: {_last_line(locust)}")
        try:
            with urllib.request.urlopen(f"{ui}/stats/requests", timeout=2) as resp:
                stats = json.load(resp)
            if resp.status == 200 and int(stats.get("worker_count") or 0) >= workers:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)  # polling the UI's port
    raise SetupError(
        f"Locust's web UI did not answer, or its {workers} workers did not connect, "
        f"within {START_TIMEOUT_S:.0f} s"
    )


def _last_line(child: Child) -> str:
    try:
        path = Path(child.log.name)
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except (OSError, TypeError):
        return "no log"
    return lines[-1] if lines else "no output"

"""`paystorm ui`: the embedded gateway (or --target) and Locust's web UI, where the scenario is
picked in the start form and a chaos panel adds and clears faults; Ctrl-C stops both.

Exit 0 when stopped with Ctrl-C or SIGTERM, 2 on a usage or setup error (one line)."""

from __future__ import annotations

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
from paystorm.processes import (
    Child,
    SetupError,
    TempFolder,
    locust_command,
    spawn,
    start_gateway,
    wait_healthy,
)
from scenarios.loader import ScenarioError, catalogue, load_scenario
from scenarios.model import Scenario

PROG = "paystorm ui"
WEB_HOST = "127.0.0.1"  # the UI holds the admin token's power: never beyond this machine
DEFAULT_WEB_PORT = 8089
START_TIMEOUT_S = 60.0  # Locust's or a --target's start, on a loaded machine
POLL_S = 0.25  # how often the children are checked


@dataclass(frozen=True)
class UiOptions:
    scenario: str = "steady"
    target: str | None = None
    allow_remote: bool = False
    web_port: int = DEFAULT_WEB_PORT
    verbose: bool = False


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Start the gateway and Locust's web UI: pick a scenario, press Start, "
        "and add or clear faults from the chaos panel.",
    )
    p.add_argument(
        "--scenario",
        default="steady",
        choices=catalogue(),
        metavar="NAME",
        help="the scenario selected at first; the embedded gateway takes its population and "
        f"gateway settings (one of {', '.join(catalogue())}; default: steady)",
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
    options = UiOptions(
        scenario=args.scenario,
        target=args.target,
        allow_remote=args.allow_remote,
        web_port=args.web_port,
        verbose=args.verbose,
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
    token = os.environ.get(TOKEN_ENV, "") if target else secrets.token_urlsafe(24)
    scratch = TempFolder("paystorm-ui-")  # ledger and logs, gone at exit (or at a later sweep)
    work = scratch.path
    children: list[tuple[Child, int]] = []  # each with the signal that stops it cleanly
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
        locust = spawn(
            "locust",
            locust_argv(url, port, options),
            work / runfolder.LOCUST_LOG,
            cwd=work,
            echo=options.verbose,
            env={TOKEN_ENV: token},  # for the chaos panel and timelines; never on a command line
        )
        children.append((locust, signal.SIGINT))
        ui = f"http://{WEB_HOST}:{port}"
        wait_for_ui(ui, locust)
        print(
            f"{PROG}: Locust web UI on {ui} (pick a scenario, press Start)\n"
            f"{PROG}: chaos panel on {ui}/paystorm/chaos (and the Chaos tab), gateway {url}\n"
            f"{PROG}: Ctrl-C stops both",
            flush=True,
        )
        while all(child.alive() for child, _ in children):
            time.sleep(POLL_S)
        dead = next(child for child, _ in children if not child.alive())
        raise SetupError(f"{dead.name} exited unexpectedly: {_last_line(dead)}")
    except KeyboardInterrupt:
        print(f"{PROG}: stopping", flush=True)
    finally:
        # A second Ctrl-C must not leave the children running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
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
    )
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


def wait_for_ui(ui: str, locust: Child) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not locust.alive():
            raise SetupError(f"Locust exited before its web UI served: {_last_line(locust)}")
        try:
            with urllib.request.urlopen(f"{ui}/", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)  # polling the UI's port
    raise SetupError(f"Locust's web UI did not answer within {START_TIMEOUT_S:.0f} s")


def _last_line(child: Child) -> str:
    try:
        path = Path(child.log.name)
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except (OSError, TypeError):
        return "no log"
    return lines[-1] if lines else "no output"

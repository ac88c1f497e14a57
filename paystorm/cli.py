"""`paystorm <command>`: one console script that dispatches to each stage's command line."""

from __future__ import annotations

import sys
from collections.abc import Callable

from contract.argparsing import EXIT_USAGE

USAGE = """usage: paystorm <command> [options]

commands:
  gateway   start the mock credit-pay gateway
  proxy     a fault proxy in front of any HTTP service (the gateway's faults, its chaos API)
  run       run a scenario end to end (gateway, Locust, report)
  soak      a long run judged on the money and the gateway's resources (--chaos: every fault)
  report    rebuild the report of a results folder
  compare   overlay several runs on the same axes, with a table of deltas
  capacity  find the highest rate at which a scenario's objectives hold
  remedies  measure what each remedy for the top causes wins back, on the same traffic
  chaos     add, list and clear faults on a running gateway
  ui        start the gateway and Locust's web UI (scenario picker, chaos panel)
  worker    join a run's Locust master as a worker (paystorm run … --workers N)

`paystorm <command> --help` describes each one."""


def _gateway(argv: list[str]) -> int:
    from mock_gateway.cli import main

    return main(argv)


def _proxy(argv: list[str]) -> int:
    from fault_proxy.cli import main

    return main(argv)


def _run(argv: list[str]) -> int:
    from paystorm.run_cli import main

    return main(argv)


def _soak(argv: list[str]) -> int:
    from paystorm.soak_cli import main

    return main(argv)


def _worker(argv: list[str]) -> int:
    from paystorm.worker_cli import main

    return main(argv)


def _report(argv: list[str]) -> int:
    from reports.cli import main

    return main(argv)


def _compare(argv: list[str]) -> int:
    from reports.compare_cli import main

    return main(argv)


def _capacity(argv: list[str]) -> int:
    from paystorm.capacity_cli import main

    return main(argv)


def _remedies(argv: list[str]) -> int:
    from paystorm.remedies_cli import main

    return main(argv)


def _chaos(argv: list[str]) -> int:
    from paystorm.chaos_cli import main

    return main(argv)


def _ui(argv: list[str]) -> int:
    from paystorm.ui_cli import main

    return main(argv)


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "capacity": _capacity,
    "chaos": _chaos,
    "compare": _compare,
    "gateway": _gateway,
    "proxy": _proxy,
    "run": _run,
    "remedies": _remedies,
    "report": _report,
    "soak": _soak,
    "ui": _ui,
    "worker": _worker,
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else EXIT_USAGE
    command = COMMANDS.get(args[0])
    if command is None:
        sys.stderr.write(
            f"paystorm: unknown command {args[0]!r}; expected one of {', '.join(COMMANDS)}\n"
        )
        return EXIT_USAGE
    return command(args[1:])

"""`paystorm report <run>` / `python -m reports <run>`: rebuild a run's report.

Prints one line, the path of report.html and the verdict. Exit status: 0 when every SLO
objective holds, 1 when one fails, 2 when the folder is not a readable run (one line on
stderr naming the file and what is wrong), 3 when the run's self-check fails (its files do
not add up; each broken invariant is printed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contract.argparsing import EXIT_SELF_CHECK
from reports import wording
from reports.build import build_report
from reports.model import RunError

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paystorm report",
        description="Rebuild report.html, summary.json, summary.md, slo.junit.xml and charts/ "
        "from the files in a results folder. Exit 0 when every SLO holds, 1 when one fails, "
        "2 when the folder cannot be read, 3 when the run's files do not add up (self-check).",
    )
    parser.add_argument(
        "run", type=Path, help="a results folder, e.g. results/flash-sale-20261125T150000Z"
    )
    return parser


def _error(message: str) -> int:
    print(f"paystorm report: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_ERROR


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # argparse has printed usage and the error, or --help
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    try:
        report = build_report(args.run)
    except RunError as e:
        return _error(str(e))
    except OSError as e:
        return _error(f"{e.filename or args.run}: cannot write the report ({e.strerror})")
    print(f"{report.html_path}: {wording.verdict(report.summary)}")
    for violation in report.violations:
        print(f"self-check failed: {violation.line()}")
    if report.violations:
        return EXIT_SELF_CHECK
    return EXIT_PASSED if report.slo_passed else EXIT_FAILED

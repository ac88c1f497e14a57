"""Command-line parsing shared by every paystorm command: a user mistake is one line, exit 2."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

EXIT_OK = 0
EXIT_SLO_FAILED = 1
EXIT_USAGE = 2
EXIT_SELF_CHECK = 3  # the run's own files do not add up: its numbers cannot be trusted


class UsageError(Exception):
    """A mistake the user can fix; the message is the one line they will see."""


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message} (see {self.prog} --help)\n")
        sys.exit(EXIT_USAGE)


def fail(prog: str, message: str) -> int:
    sys.stderr.write(f"{prog}: {message}\n")
    return EXIT_USAGE

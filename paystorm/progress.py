"""The one progress line of a headless run, rewritten in place on a terminal."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from contract import runfolder
from scenarios.model import Scenario

PLAIN_EVERY_S = 10.0  # when stdout is not a terminal (CI logs), one line this often


class Progress:
    def __init__(self, run_dir: Path, scenario: Scenario, *, enabled: bool) -> None:
        self._file = run_dir / runfolder.PROGRESS
        self._scenario = scenario
        self._enabled = enabled
        self._tty = sys.stdout.isatty()
        self._last_plain = 0.0
        self._printed = False

    def tick(self) -> None:
        if not self._enabled:
            return
        try:
            p = json.loads(self._file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        rate = p.get("success_rate")
        line = (
            f"{self._scenario.name}: {p['elapsed_s']:>5.0f}/{p['duration_s']:.0f} s  "
            f"users {p['users']:>4}  started {p['started_per_s']:>5}/s  "
            f"succeeded {p['succeeded_per_s']:>5}/s  "
            f"success {'  -  ' if rate is None else f'{rate:6.1%}'}  "
            f"dropped {p['dropped_per_s']:>4}/s"
        )
        if self._tty:
            sys.stdout.write("\r" + line + "\x1b[K")
            sys.stdout.flush()
            self._printed = True
        elif time.monotonic() - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = time.monotonic()
            print(line, flush=True)

    def done(self) -> None:
        if self._printed:
            sys.stdout.write("\n")
            sys.stdout.flush()

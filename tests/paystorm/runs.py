"""Short `paystorm run`s of a scenario written on the fly, started side by side when a test
compares two (each run has its own embedded gateway)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SMALL_POPULATION = {"accounts": 500, "merchants": 30}


@dataclass(frozen=True)
class Finished:
    run_dir: Path
    summary: dict[str, Any]
    reconcile: dict[str, Any]
    payments: list[dict[str, Any]]
    """payments.jsonl: one line per payment or refund, as the client lived it."""

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [p for p in self.payments if p["type"] == kind]


class Run:
    def __init__(self, tmp_path: Path, scenario: dict[str, Any], *args: str) -> None:
        self.name = str(scenario["name"])
        self.out = tmp_path / "out" / self.name
        path = tmp_path / f"{self.name}.yaml"
        path.write_text(yaml.safe_dump({"population": SMALL_POPULATION, **scenario}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "paystorm", "run", str(path), "--out", str(self.out), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    output = ""
    """What `paystorm run` printed (stdout and stderr), once finished."""

    def finish(self, timeout: float = 150) -> Finished:
        output, _ = self.proc.communicate(timeout=timeout)
        self.output = output
        assert self.proc.returncode in (0, 1), output  # 1: an objective failed, the run worked
        (run_dir,) = self.out.iterdir()
        lines = (run_dir / "payments.jsonl").read_text().splitlines()
        return Finished(
            run_dir=run_dir,
            summary=json.loads((run_dir / "summary.json").read_text()),
            reconcile=json.loads((run_dir / "reconcile.json").read_text()),
            payments=[json.loads(line) for line in lines],
        )


def run_all(tmp_path: Path, *scenarios: dict[str, Any]) -> list[Finished]:
    runs = [Run(tmp_path, s) for s in scenarios]
    try:
        return [r.finish() for r in runs]
    finally:
        for r in runs:  # one failed: the others stop too, and nothing is left running
            if r.proc.poll() is None:
                r.proc.kill()
            r.proc.communicate()

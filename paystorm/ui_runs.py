"""The runs started from `paystorm ui`, finished as `paystorm run` finishes its own: when
Locust has written a test's outcomes, the fault windows, the ledger's audit and export, the
cross-check, the gateway's metrics, run.json and the report go into the same folder, so a
run from the web UI can be compared with a headless one."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.admin import AdminClient
from contract.profile import apply_overrides
from contract.runfolder import RunFolder

# The runner's own steps after Locust, so both leave the same files.
from paystorm.adapted import adapter_of
from paystorm.processes import SetupError
from paystorm.runner import (
    _read_json,
    _write_audit,
    _write_fault_windows,
    _write_reconciliation,
    iso,
)
from paystorm.sampler import MetricsSampler
from reports.build import build_report
from reports.model import RunError
from scenarios.loader import ScenarioError, load_scenario
from scenarios.pool import pool_of

ENDED_EARLY_S = 1.0  # stopped this long before its planned end: the person pressed Stop
LOCUST_FILES_WAIT_S = 10.0  # Locust writes its statistics just after the outcomes


@dataclass
class UiRuns:
    """Watches `out` for the folders of tests started from the web UI and finishes each."""

    out: Path
    url: str
    token: str
    embedded: bool
    sampler: MetricsSampler
    since: float = field(default_factory=time.time)
    finished: set[Path] = field(default_factory=set)

    def poll(self) -> list[tuple[Path, str]]:
        """Finish every folder whose outcomes Locust has written; (folder, report or why not)."""
        done: list[tuple[Path, str]] = []
        if not self.out.is_dir():
            return done
        for path in sorted(self.out.iterdir()):
            folder = RunFolder(path)
            if path in self.finished or not folder.outcomes.exists() or folder.run.exists():
                continue
            if path.stat().st_mtime < self.since:
                continue  # a folder of an earlier session or of `paystorm run`
            written_s = time.time() - folder.outcomes.stat().st_mtime
            if not folder.locust_html.exists() and written_s < LOCUST_FILES_WAIT_S:
                continue
            self.finished.add(path)
            try:
                done.append((path, self.finish(folder)))
            except Exception as exc:  # one run's files must not end the UI's session
                done.append((path, f"not reported: {type(exc).__name__}: {exc}"))
        return done

    def finish(self, folder: RunFolder) -> str:
        ended = time.time()
        clock = _read_json(folder.clock) or {}
        t0 = float(clock.get("t0_unix", ended))
        try:
            scenario = load_scenario(str(folder.scenario))
        except ScenarioError as exc:
            return f"not reported: {exc}"
        try:
            adapter = adapter_of(str(folder.scenario), scenario)
        except SetupError as exc:
            return f"not reported: {exc}"
        admin = AdminClient(self.url, self.token, timeout_s=120)
        _write_fault_windows(admin, t0, folder.faults)
        settle_s = apply_overrides(scenario.gateway).settle_delay_s if self.embedded else 15.0
        if scenario.client.adapter is None:  # only the mock gateway has an audit
            _write_audit(admin, folder.audit, settle_s + 5.0)
        _write_reconciliation(admin, folder, adapter)
        samples = [(at, values) for at, values in self.sampler.samples if at <= ended]
        keep, self.sampler.samples = self.sampler.samples, samples
        try:
            self.sampler.write(folder.gateway_metrics, t0)
        finally:
            self.sampler.samples = keep
        guard = _read_json(folder.guard)
        measured_s = ended - t0
        stop_reason, detail = "completed", None
        if guard is not None:
            stop_reason, detail = "guard", str(guard.get("reason"))
        elif (load_s := _load_seconds(folder)) < scenario.run_duration_s - ENDED_EARLY_S:
            # Payments in flight may finish well after Stop: the load's last second says when.
            stop_reason = "interrupted"
            detail = f"stopped from the web UI after {load_s:.0f} s of load"
        info: dict[str, Any] = {
            "scenario": scenario.name,
            "started_at": iso(t0),
            "ended_at": iso(ended),
            "duration_s": round(measured_s, 2),
            "target": self.url,
            "embedded_gateway": self.embedded,
            "stop_reason": stop_reason,
            "stop_detail": detail,
            "locust_exit_code": None,  # Locust goes on serving the web UI
            "pool": pool_of(scenario).as_json() if scenario.load.model == "arrival-rate" else None,
            "started_from": "web UI",
        }
        folder.run.write_text(json.dumps(info, indent=2) + "\n")
        try:
            report = build_report(folder.path)
        except (RunError, OSError) as exc:
            return f"not reported: {exc}"
        return str(report.html_path)


def _load_seconds(folder: RunFolder) -> float:
    """Seconds of the run that offered load: up to the last second with an arrival."""
    with folder.outcomes.open(newline="", encoding="utf-8") as fh:
        busy = [int(row["time"]) for row in csv.DictReader(fh) if int(row["offered"] or 0) > 0]
    return float(max(busy) + 1) if busy else 0.0

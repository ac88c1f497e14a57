"""The web UI's live payments view against the run's own files: a test started from the UI
is watched through `/paystorm/live` while it runs, and what the view said of each second must be
what outcomes.csv says of it once the run is over; the folder is finished as `paystorm run`
finishes its own, report included."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract import runfolder
from contract.columns import CODE_PREFIX, COUNT_COLUMNS, LATENCY_COLUMNS, REFUND_COLUMNS
from tests.paystorm.ui_support import SCENARIO, Ui, live, paystorm_ui, swarm


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / f"{SCENARIO['name']}.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    return path


# One Locust process, and a master with two workers: the view is then the master's, merged
# from the payment lines the workers send it every second.
@pytest.fixture(params=[1, 2], ids=["one-process", "two-workers"])  # request.param: processes
def ui(request: pytest.FixtureRequest, scenario_file: Path) -> Iterator[Ui]:
    processes = str(request.param)
    out = str(scenario_file.parent)
    with paystorm_ui(
        "--scenario", str(scenario_file), "--out", out, "--processes", processes
    ) as ui:
        yield ui


def _csv_rows(path: Path) -> dict[int, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {int(row["time"]): row for row in csv.DictReader(fh)}


def _same(live_row: dict[str, Any], csv_row: dict[str, str]) -> dict[str, tuple[Any, Any]]:
    """Every column of outcomes.csv the live row differs in: {column: (live, csv)}."""
    differ: dict[str, tuple[Any, Any]] = {}
    for column in (*COUNT_COLUMNS, *REFUND_COLUMNS):
        if int(csv_row[column]) != live_row[column]:
            differ[column] = (live_row[column], csv_row[column])
    for column in LATENCY_COLUMNS:
        shown = "" if live_row[column] == "" else f"{live_row[column]}"
        if csv_row[column] != shown and float(csv_row[column] or "nan") != live_row[column]:
            differ[column] = (live_row[column], csv_row[column])
    codes = {
        k.removeprefix(CODE_PREFIX): int(v) for k, v in csv_row.items() if k.startswith(CODE_PREFIX)
    }
    if {c: n for c, n in codes.items() if n} != live_row["codes"]:
        differ["codes"] = (live_row["codes"], codes)
    return differ


def test_the_live_view_agrees_with_outcomes_csv(
    ui: Ui, scenario_file: Path, request: pytest.FixtureRequest
) -> None:
    answer = swarm(ui, scenario=str(scenario_file), host=ui.gateway)
    assert answer["success"], answer
    settled: dict[int, dict[str, Any]] = {}  # what the view said of seconds it called settled
    windows: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    view = live(ui)
    while view["state"] != "stopped":
        assert time.monotonic() < deadline, view["state"]
        if view["started"]:
            for row in view["seconds"]:
                # A second long enough ago, with nothing of it in flight, is final.
                if row["in_flight"] == 0 and row["time"] + view["settle_s"] < view["elapsed_s"]:
                    settled[row["time"]] = row
            windows = view["gateway"]["windows"] or windows
        time.sleep(0.5)  # polling as the page does, about once a second
        view = live(ui)
    folder = Path(view["results"]["folder"])
    assert folder.parent == scenario_file.parent
    # Locust says stopped, then its test_stop hooks close the open payments and write
    # outcomes.csv.
    while not (folder / runfolder.OUTCOMES).exists():
        assert time.monotonic() < deadline, "no outcomes.csv"
        time.sleep(0.1)
    final = live(ui)
    assert final["in_flight"] in (0, None)  # None: a master, which never holds one open
    rows = _csv_rows(folder / runfolder.OUTCOMES)

    # Seconds the view called settled while the run went on, and every second at the end.
    assert len(settled) >= 2, settled.keys()
    for sec, row in [*settled.items(), *((r["time"], r) for r in final["seconds"])]:
        assert _same(row, rows[sec]) == {}, sec
    assert sorted(r["time"] for r in final["seconds"]) == sorted(rows)
    assert final["totals"]["offered"] == sum(int(r["offered"]) for r in rows.values())
    if request.node.callspec.params["ui"] != 1:
        return  # the rest is the same whatever the processes: checked once, the report is slow

    line = ui.wait_for_line("report", timeout_s=90)
    assert folder.name in line
    summary = json.loads((folder / runfolder.SUMMARY).read_text())

    totals = final["totals"]
    assert totals["offered"] == summary["offered"]
    assert totals["dropped"] == summary["dropped"]
    assert totals["success_rate"] == pytest.approx(summary["success_rate"], abs=1e-12)
    busy = sum(int(r[f"{CODE_PREFIX}SYSTEM_BUSY"]) for r in rows.values())
    assert (
        busy > 0
        and totals["causes"].get("SYSTEM_BUSY")
        == summary["had_credit_failures_by_cause"]["SYSTEM_BUSY"]
    )
    # The fault's window, on the run's clock, as faults.json has it.
    (window,) = [w for w in windows if w["kind"] == "error"]
    (written,) = json.loads((folder / runfolder.FAULTS).read_text())
    assert window["start_s"] == pytest.approx(written["started_at_s"], abs=0.01)
    assert 1.5 < window["start_s"] < 3.0
    # Judged so far on the same numbers the report judges at the end.
    judged = {o["name"]: o for o in final["objectives"]}
    verdicts = {o["name"]: o["passed"] for o in summary["slo"]}
    assert (judged["success_rate"]["state"] == "met") == verdicts["success_rate"]

    # The folder is what `paystorm run` leaves, and the view links its report.
    finished = (runfolder.RUN, runfolder.AUDIT, runfolder.RECONCILE, runfolder.REPORT_HTML)
    for name in (*finished, runfolder.LOCUST_STATS, runfolder.LOCUST_HTML):
        assert (folder / name).is_file(), name
    assert json.loads((folder / runfolder.RUN).read_text())["stop_reason"] == "completed"
    report = live(ui)["results"]["report"]
    assert report and report.endswith(f"{folder.name}/{runfolder.REPORT_HTML}")

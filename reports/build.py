"""Build a run's report: load, summarize, draw, render, then publish every file as one set."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from matplotlib.figure import Figure

from contract import runfolder
from reports import charts, detail_charts
from reports.model import Run
from reports.pages import render_html, render_junit, render_markdown
from reports.publish import publish
from reports.run import load_run
from reports.selfcheck import Violation, check
from reports.summary import summarize

CHARTS: Mapping[str, Callable[[Run], Figure]] = {
    "success_vs_load": charts.success_vs_load,
    "timeline": charts.timeline,
    "causes": detail_charts.causes,
    "latency": detail_charts.latency,
    "gateway": detail_charts.gateway,
}
# report.html is written last: while it is missing, the report is not complete.
REPORT_HTML = runfolder.REPORT_HTML


@dataclass(frozen=True, slots=True)
class Report:
    """What a build produced: the summary.json content, the SLO verdict and where it went."""

    summary: dict[str, Any]
    slo_passed: bool
    html_path: Path
    files: tuple[Path, ...]
    violations: tuple[Violation, ...] = ()
    """What the run's self-check found: its numbers do not add up, whatever the SLO says."""


def render_files(run: Run) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The summary and every output file's bytes by relative path, report.html last.

    Nothing is written here, so a failure while drawing or rendering leaves the folder as it was.
    """
    summary = summarize(run)
    violations = check(run)
    summary["self_check"] = {
        "ok": not violations,
        "violations": [{"invariant": v.invariant, "detail": v.detail} for v in violations],
    }
    pngs = {name: charts.png(draw(run)) for name, draw in CHARTS.items()}
    files = {f"charts/{name}.png": data for name, data in pngs.items()}
    files[runfolder.SUMMARY] = orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n"
    files[runfolder.SUMMARY_MD] = render_markdown(summary).encode()
    files["slo.junit.xml"] = render_junit(summary).encode()
    files[REPORT_HTML] = render_html(run, summary, pngs).encode()
    return summary, files


def build_report(run_dir: Path) -> Report:
    """Rebuild the report of the results folder `run_dir`, in place.

    Raises RunError when the folder is not a readable run (nothing is written then), and
    OSError when a file cannot be written (see reports.publish: the folder then holds the
    previous report whole, or no report, never a partial one).
    """
    run = load_run(run_dir)
    summary, files = render_files(run)
    written = publish(run_dir, files, REPORT_HTML)
    violations = tuple(Violation(**v) for v in summary["self_check"]["violations"])
    return Report(
        summary=summary,
        slo_passed=bool(summary["slo_passed"]),
        html_path=run_dir / REPORT_HTML,
        files=written,
        violations=violations,
    )

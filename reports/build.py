"""Build a run's report: load, summarize, draw, render, then write every file atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from matplotlib.figure import Figure

from reports import charts
from reports.model import Run
from reports.pages import render_html, render_junit, render_markdown
from reports.run import load_run
from reports.summary import summarize

CHARTS: Mapping[str, Callable[[Run], Figure]] = {
    "success_vs_load": charts.success_vs_load,
    "timeline": charts.timeline,
}
# report.html is written last: while it is missing, the report is not complete.
REPORT_HTML = "report.html"


@dataclass(frozen=True, slots=True)
class Report:
    """What a build produced: the summary.json content, the SLO verdict and where it went."""

    summary: dict[str, Any]
    slo_passed: bool
    html_path: Path
    files: tuple[Path, ...]


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename: all of it or nothing."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)  # mkstemp makes 0600; a report is for everyone to read
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def render_files(run: Run) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The summary and every output file's bytes by relative path, report.html last.

    Nothing is written here, so a failure while drawing or rendering leaves the folder as it was.
    """
    summary = summarize(run)
    pngs = {name: charts.png(draw(run)) for name, draw in CHARTS.items()}
    files = {f"charts/{name}.png": data for name, data in pngs.items()}
    files["summary.json"] = orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n"
    files["summary.md"] = render_markdown(summary).encode()
    files["slo.junit.xml"] = render_junit(summary).encode()
    files[REPORT_HTML] = render_html(run, summary, pngs).encode()
    return summary, files


def build_report(run_dir: Path) -> Report:
    """Rebuild the report of the results folder `run_dir`, in place.

    Raises RunError when the folder is not a readable run (nothing is written then), and
    OSError when a file cannot be written (report.html is then absent, never stale).
    """
    run = load_run(run_dir)
    summary, files = render_files(run)
    (run_dir / REPORT_HTML).unlink(missing_ok=True)
    (run_dir / "charts").mkdir(exist_ok=True)
    written = []
    for name, data in files.items():
        write_atomic(run_dir / name, data)
        written.append(run_dir / name)
    return Report(
        summary=summary,
        slo_passed=bool(summary["slo_passed"]),
        html_path=run_dir / REPORT_HTML,
        files=tuple(written),
    )

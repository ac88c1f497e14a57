"""`paystorm compare RUN RUN … --out DIR`: several runs overlaid on the same axes.

Writes DIR/compare.html (self-contained), compare.md (for CI job summaries), compare.json
and charts/. The first run is the baseline of the table of deltas. Prints the path of
compare.html and the success-rate line; exit 0 when written, 2 when a run cannot be read or
the output cannot be written (one line on stderr naming the file and what is wrong).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import orjson
from matplotlib.figure import Figure

from contract import runfolder
from contract.argparsing import EXIT_OK, ArgumentParser, fail
from reports import charts, compare_charts
from reports.compare import Compared, as_json, compare, delta_rows, delta_text, value_text
from reports.compare_pages import render_html, render_markdown
from reports.model import RunError
from reports.publish import publish
from reports.run import load_run

PROG = "paystorm compare"
COMPARE_HTML = "compare.html"
CHARTS: Mapping[str, Callable[[Sequence[Compared]], Figure]] = {
    "success_vs_load": compare_charts.success_vs_load,
    "timeline": compare_charts.timeline,
    "causes": compare_charts.causes,
    "latency": compare_charts.latency,
}


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Overlay several runs on the same axes (failover off versus on, immediate "
        "retries versus backoff) and tabulate their deltas against the first. Writes "
        "compare.html, compare.md, compare.json and charts/ into --out.",
    )
    p.add_argument(
        "runs",
        nargs="+",
        type=Path,
        metavar="RUN",
        help="results folders; the first is the baseline",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="where to write the comparison (created if missing)",
    )
    return p


def render_files(compared: Sequence[Compared]) -> dict[str, bytes]:
    """Every output file's bytes by relative path, compare.html last; nothing is written."""
    rows = delta_rows(compared)
    pngs = {name: charts.png(draw(compared)) for name, draw in CHARTS.items()}
    files = {f"charts/{name}.png": data for name, data in pngs.items()}
    files["compare.json"] = (
        orjson.dumps(as_json(compared, rows), option=orjson.OPT_INDENT_2) + b"\n"
    )
    files["compare.md"] = render_markdown(compared, rows).encode()
    files[COMPARE_HTML] = render_html(compared, rows, pngs).encode()
    return files


def headline(compared: Sequence[Compared]) -> str:
    """e.g. "success rate 78.3 % → 99.6 % (+21.3 pp)" for the baseline and each other run."""
    found = [r for r in delta_rows(compared) if r.name == "success rate"]
    if not found:
        return "no run had a success rate"
    success = found[0]
    values = " → ".join(value_text("share", v) for v in success.values)
    deltas = ", ".join(delta_text("share", d) for d in success.deltas[1:])
    return f"success rate {values} ({deltas})"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if len(args.runs) < 2:
        return fail(PROG, f"give at least two runs to compare, got {len(args.runs)}")
    out: Path = args.out
    if (out / runfolder.OUTCOMES).exists() or (out / runfolder.RUN).exists():
        return fail(PROG, f"--out {out} is a results folder; write the comparison elsewhere")
    try:
        runs = [load_run(path) for path in args.runs]
    except RunError as e:
        return fail(PROG, " ".join(str(e).split()))
    compared = compare(runs)
    files = render_files(compared)
    try:
        out.mkdir(parents=True, exist_ok=True)
        publish(out, files, COMPARE_HTML)
    except OSError as e:
        return fail(PROG, f"{e.filename or out}: cannot write the comparison ({e.strerror})")
    print(f"{out / COMPARE_HTML}: {headline(compared)}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

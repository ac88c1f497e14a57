"""`paystorm capacity <scenario>`: the highest offered rate at which the scenario's objectives
hold. Exit 0 when the search ends (with `--forecast`, when the forecast fits), 1 when the
forecast does not fit or the objectives broke even at `--min`, 2 on a usage error (one line,
nothing run), 130 when interrupted."""

from __future__ import annotations

import json
import time
from pathlib import Path

from contract.argparsing import EXIT_SLO_FAILED, ArgumentParser, fail
from paystorm.capacity import (
    EXIT_INTERRUPTED,
    STEP_OVERHEAD_S,
    Outcome,
    Search,
    document,
    objectives_of,
    search_capacity,
    step_seconds,
)
from paystorm.processes import SetupError
from paystorm.runner import make_run_dir
from reports.capacity_report import capacity_figure, headline, render_html, render_markdown
from reports.charts import png
from reports.judge import STRETCH_OBJECTIVES
from reports.publish import publish
from scenarios.loader import ScenarioError, catalogue, load_scenario
from scenarios.model import Scenario

PROG = "paystorm capacity"
CAPACITY_JSON = "capacity.json"
CAPACITY_MD = "capacity.md"
REPORT = "report.html"
CHART = "charts/capacity.png"


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Find the highest offered rate at which the scenario's objectives hold: "
        "a coarse ladder, then bisection, on short steady steps of the scenario.",
    )
    p.add_argument("scenario", help=f"a catalogue name ({', '.join(catalogue())}) or a YAML file")
    p.add_argument("--out", type=Path, default=Path("results"), help="default: results/")
    p.add_argument("--min", type=float, default=10.0, metavar="RATE", help="lowest rate tried")
    p.add_argument(
        "--max", type=float, default=2000.0, metavar="RATE", help="highest rate tried (2000)"
    )
    p.add_argument(
        "--start",
        type=float,
        default=None,
        metavar="RATE",
        help="the ladder's first rate (default: the scenario's peak rate)",
    )
    p.add_argument(
        "--budget-s", type=float, default=300.0, help="wall time for the whole search (300)"
    )
    p.add_argument(
        "--step-s", type=float, default=10.0, help="judged seconds of each step, after warm-up (10)"
    )
    p.add_argument("--warmup-s", type=float, default=5.0, help="seconds of warm-up per step (5)")
    p.add_argument(
        "--precision",
        type=float,
        default=0.05,
        help="stop when the rate that broke is within this share of the one that held (0.05)",
    )
    p.add_argument(
        "--forecast",
        type=float,
        default=None,
        metavar="RATE",
        help="the expected peak: prints the headroom; exit 1 when it does not fit",
    )
    return p


def _check(scenario: Scenario, search: Search, forecast: float | None) -> str | None:
    """The first usage mistake, in words; None when the search can run."""
    if search.min_rate <= 0 or search.max_rate <= 0:
        return f"--min {search.min_rate:g} / --max {search.max_rate:g}: expected rates above 0"
    if search.min_rate > search.max_rate:
        return f"--min {search.min_rate:g}: expected at most --max ({search.max_rate:g})"
    if search.warmup_s < 0 or search.step_s <= 0:
        return "--warmup-s / --step-s: expected a warm-up of 0 or more and a step above 0"
    if not 0 < search.precision < 1:
        return f"--precision {search.precision:g}: expected a share between 0 and 1"
    if forecast is not None and forecast <= 0:
        return f"--forecast {forecast:g}: expected a rate above 0"
    one = step_seconds(scenario, search) + STEP_OVERHEAD_S
    if search.budget_s < one:
        return (
            f"--budget-s {search.budget_s:g}: expected at least one step's time, about "
            f"{one:.0f} s ({step_seconds(scenario, search):g} s of load and ~{STEP_OVERHEAD_S:g} s "
            "to start and stop)"
        )
    if not any(objectives_of(scenario).get(name) is not None for name in STRETCH_OBJECTIVES):
        return (
            f"{scenario.name}: slo: expected an objective a step can break "
            f"({', '.join(STRETCH_OBJECTIVES)}); the scenario sets none"
        )
    return None


def write_documents(folder: Path, doc: dict[str, object]) -> Path:
    """capacity.json, capacity.md, the chart and report.html, published as one set."""
    chart = png(capacity_figure(doc))
    files = {
        CAPACITY_JSON: (json.dumps(doc, indent=2) + "\n").encode(),
        CAPACITY_MD: render_markdown(doc).encode(),
        CHART: chart,
        REPORT: render_html(doc, chart).encode(),
    }
    publish(folder, files, REPORT)
    return folder / REPORT


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        return fail(PROG, str(exc))
    search = Search(
        min_rate=args.min,
        max_rate=args.max,
        budget_s=args.budget_s,
        warmup_s=args.warmup_s,
        step_s=args.step_s,
        precision=args.precision,
        start_rate=args.start,
    )
    mistake = _check(scenario, search, args.forecast)
    if mistake:
        return fail(PROG, mistake)
    folder = make_run_dir(args.out, f"{scenario.name}-capacity")
    started = time.monotonic()

    def save(result: Outcome) -> None:
        # After every step: a search cut short still leaves what it measured.
        doc = document(scenario, search, result, time.monotonic() - started, args.forecast)
        (folder / CAPACITY_JSON).write_text(json.dumps(doc, indent=2) + "\n")

    print(f"{scenario.name}: capacity search in {folder}", flush=True)
    try:
        result = search_capacity(
            scenario,
            search,
            folder,
            progress=lambda line: print(f"{scenario.name}: {line}", flush=True),
            on_step=save,
        )
    except (ScenarioError, SetupError) as exc:
        return fail(PROG, str(exc))
    doc = document(scenario, search, result, time.monotonic() - started, args.forecast)
    report = write_documents(folder, doc)
    print(headline(doc))
    for finding in (doc.get("what_broke") or {}).get("findings", []):
        print(f"  {finding}")
    forecast = doc.get("forecast")
    if forecast:
        room = forecast["headroom_pct"]
        print(
            f"forecast {forecast['per_s']:g}/s: "
            + ("fits" if forecast["fits"] else "does not fit")
            + ("" if room is None else f", headroom {room:+.1f} %")
        )
    print(f"report: {report}")
    if result.stop == "interrupted":
        return EXIT_INTERRUPTED
    if forecast:
        return 0 if forecast["fits"] else EXIT_SLO_FAILED
    return EXIT_SLO_FAILED if result.held is None else 0

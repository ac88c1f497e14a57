"""`paystorm remedies <scenario>`: measure each remedy that addresses the scenario's top
had-credit causes on the same traffic, each run repeated to show the spread. Exit 0 when
the runs are done, 2 on a usage error (one line, nothing run), 130 when interrupted."""

from __future__ import annotations

import json
from pathlib import Path

from contract.argparsing import ArgumentParser, fail
from paystorm.capacity import EXIT_INTERRUPTED
from paystorm.processes import SetupError
from paystorm.remedies import (
    Variant,
    applicable,
    causes_of,
    choose,
    document,
    run_variant,
    with_remedy,
)
from paystorm.runner import make_run_dir
from reports import compare_cli
from reports.publish import publish
from reports.remedies import BY_NAME, CATALOGUE
from reports.remedies_pages import headline, render_html, render_markdown
from scenarios.loader import ScenarioError, catalogue, load_scenario

PROG = "paystorm remedies"
MAX_REPEATS = 10
MEASURABLE = [r.name for r in CATALOGUE if r.measurable]


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Measure the remedies for a scenario's top causes of had-credit failures: "
        "the same traffic with one remedy switched on at a time, each run repeated.",
    )
    p.add_argument("scenario", help=f"a catalogue name ({', '.join(catalogue())}) or a YAML file")
    p.add_argument("--out", type=Path, default=Path("results"), help="default: results/")
    p.add_argument(
        "--repeats", type=int, default=3, help=f"runs of each variant, 1 to {MAX_REPEATS} (3)"
    )
    p.add_argument(
        "--remedy",
        action="append",
        metavar="NAME",
        help=f"measure this remedy whatever the causes (repeatable): {', '.join(MEASURABLE)}",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=None,
        help="compress the scenario's time by this factor in every run (rates stay the same)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 1 <= args.repeats <= MAX_REPEATS:
        return fail(PROG, f"--repeats {args.repeats}: expected 1 to {MAX_REPEATS}")
    if args.speed is not None and args.speed <= 0:
        return fail(PROG, f"--speed {args.speed:g}: expected a number above 0")
    for name in args.remedy or ():
        if name not in MEASURABLE:
            return fail(PROG, f"--remedy {name}: expected one of {', '.join(MEASURABLE)}")
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        return fail(PROG, str(exc))
    for name in args.remedy or ():
        if not applicable(BY_NAME[name], scenario):
            return fail(PROG, f"--remedy {name}: already on in {scenario.name}")
    folder = make_run_dir(args.out, f"{scenario.name}-remedies")
    print(f"{scenario.name}: remedies in {folder}", flush=True)

    def progress(line: str) -> None:
        print(f"{scenario.name}: {line}", flush=True)

    variants = [Variant("baseline", None, scenario, [], [])]
    try:
        run_variant(variants[0], folder, args.repeats, args.speed, progress)
        causes = causes_of(variants[0].summaries)
        chosen = [BY_NAME[n] for n in args.remedy] if args.remedy else choose(scenario, causes)
        progress(
            "remedies to measure: "
            + (", ".join(r.name for r in chosen) or "none applies to the top causes")
        )
        for remedy in chosen:
            variant = Variant(remedy.name, remedy, with_remedy(scenario, remedy), [], [])
            variants.append(variant)
            run_variant(variant, folder, args.repeats, args.speed, progress)
    except KeyboardInterrupt:
        interrupted = True
    except (ScenarioError, SetupError) as exc:
        return fail(PROG, str(exc))
    else:
        interrupted = False
    variants = [v for v in variants if v.summaries]
    if not variants:
        return EXIT_INTERRUPTED
    doc = document(scenario, variants, args.repeats)
    if len(variants) > 1:
        # The charts paystorm compare makes: the first repeat of each variant.
        compare_cli.main([str(v.runs[0]) for v in variants] + ["--out", str(folder / "compare")])
    files = {
        "remedies.json": (json.dumps(doc, indent=2) + "\n").encode(),
        "remedies.md": render_markdown(doc).encode(),
        "report.html": render_html(doc).encode(),
    }
    publish(folder, files, "report.html")
    print(render_markdown(doc))
    print(headline(doc))
    print(f"report: {folder / 'report.html'}")
    return EXIT_INTERRUPTED if interrupted else 0

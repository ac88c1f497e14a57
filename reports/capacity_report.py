"""The capacity search's documents, from its `capacity.json` alone: `capacity.md`, the chart
of every step and `report.html` (self-contained)."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from contract.palette import FAILED, SUCCESS
from reports import wording
from reports.pages import CSS
from reports.sections import table, text

DPI = 110


def headline(doc: Mapping[str, Any]) -> str:
    """The answer in one line."""
    bracket = doc.get("bracket") or {}
    held, broke = bracket.get("held_per_s"), bracket.get("broke_per_s")
    status = doc.get("status")
    first = ", ".join(doc.get("broke_first") or ()) or "the objectives"
    if held is None and broke is not None:
        return f"no capacity in range: {first} broke even at {wording.per_s(broke)}"
    if held is None:
        return "no step was judged"
    if broke is None:
        return f"capacity ≥ {wording.per_s(held)}: every step held, up to the highest tried"
    width = bracket.get("width_pct")
    said = (
        f"capacity {wording.per_s(held)}: held at {wording.per_s(held)}, {first} broke at "
        f"{wording.per_s(broke)} (bracket {width:.1f} % wide)"
    )
    return said if status == "bracketed" else f"{said}; {doc.get('status_detail') or status}"


def forecast_line(doc: Mapping[str, Any]) -> str | None:
    forecast = doc.get("forecast")
    if not forecast:
        return None
    headroom = forecast.get("headroom_pct")
    room = "n/a" if headroom is None else f"{headroom:+.1f} %"
    verdict = "fits" if forecast.get("fits") else "does not fit"
    return f"forecast peak {wording.per_s(forecast['per_s'])} {verdict}: headroom {room}"


def _step_rows(doc: Mapping[str, Any]) -> list[list[str]]:
    return [
        [
            str(i),
            s.get("phase", ""),
            wording.per_s(s["rate_per_s"]),
            "held" if s["held"] else "broke: " + ", ".join(s["broken"]),
            wording.pct(s.get("success_rate")),
            wording.ms(s.get("p99_ms")),
            wording.count(s.get("dropped")),
            "n/a" if s.get("attempts_per_payment") is None else f"{s['attempts_per_payment']:.2f}",
            f"{s.get('wall_s', 0):.0f} s",
        ]
        for i, s in enumerate(doc.get("steps") or (), start=1)
    ]


STEP_HEAD = ["step", "phase", "offered", "verdict", "success", "p99", "dropped", "attempts", "took"]


def render_markdown(doc: Mapping[str, Any]) -> str:
    lines = [f"# Capacity: {doc.get('scenario')}", "", f"**{headline(doc)}**", ""]
    said = forecast_line(doc)
    if said:
        lines += [f"**{said}**", ""]
    objectives = doc.get("objectives") or {}
    lines.append("Objectives: " + ", ".join(f"`{k}` {v:g}" for k, v in objectives.items()))
    broke = doc.get("what_broke") or {}
    if broke.get("findings"):
        lines += ["", "What broke first, at the lowest rate that broke:", ""]
        lines += [f"- {f}" for f in broke["findings"]]
    lines += ["", "| " + " | ".join(STEP_HEAD) + " |", "|" + " --- |" * len(STEP_HEAD)]
    lines += ["| " + " | ".join(row) + " |" for row in _step_rows(doc)]
    search = doc.get("search") or {}
    lines += [
        "",
        f"Each step: {search.get('warmup_s', 0):g} s of warm-up (not judged), then at least "
        f"{search.get('step_s', 0):g} s judged; the search took {doc.get('elapsed_s', 0):.0f} s "
        f"of a {search.get('budget_s', 0):g} s budget.",
        "",
    ]
    return "\n".join(lines)


def capacity_figure(doc: Mapping[str, Any]) -> Figure:
    """Success rate and p99 against offered rate, one point per step, the bracket marked."""
    fig = Figure(figsize=(10, 5.5), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    steps: Sequence[Mapping[str, Any]] = doc.get("steps") or ()
    for held, marker in ((True, "o"), (False, "X")):
        chosen = [s for s in steps if s["held"] is held and s.get("success_rate") is not None]
        ax.scatter(
            [s["rate_per_s"] for s in chosen],
            [100 * s["success_rate"] for s in chosen],
            marker=marker,
            s=60,
            color=SUCCESS if held else FAILED,
            zorder=3,
            gid=f"steps:{'held' if held else 'broke'}",
        )
    ax.set_xlabel("offered load (payments/s; one point per step)")
    ax.set_ylabel("success rate after warm-up (%)")
    ax.set_ylim(-3, 103)
    objectives = doc.get("objectives") or {}
    if "success_rate" in objectives:
        ax.axhline(100 * objectives["success_rate"], color="black", ls="--", lw=1)
    right = ax.twinx()
    timed = sorted((s["rate_per_s"], s["p99_ms"]) for s in steps if s.get("p99_ms") is not None)
    if timed:
        right.plot(*zip(*timed, strict=True), color="#7f7f7f", marker=".", lw=1, gid="p99")
        right.set_yscale("log")
    right.set_ylabel("p99 latency after warm-up (ms, log)")
    if "p99_ms" in objectives:
        right.axhline(objectives["p99_ms"], color="#7f7f7f", ls=":", lw=1)
    bracket = doc.get("bracket") or {}
    low, high = bracket.get("held_per_s"), bracket.get("broke_per_s")
    if low is not None and high is not None:
        ax.axvspan(low, high, color="#f2c14e", alpha=0.35, gid="bracket")
    ax.set_title(f"Capacity of {doc.get('scenario')}: {headline(doc)}", fontsize=10)
    ax.legend(
        handles=[
            Line2D([], [], marker="o", ls="", color=SUCCESS, label="step held"),
            Line2D([], [], marker="X", ls="", color=FAILED, label="step broke"),
            Line2D([], [], marker=".", color="#7f7f7f", label="p99 (right axis)"),
        ],
        loc="lower left",
    )
    return fig


def render_html(doc: Mapping[str, Any], chart_png: bytes) -> str:
    uri = "data:image/png;base64," + base64.b64encode(chart_png).decode("ascii")
    said = forecast_line(doc)
    fits = (doc.get("forecast") or {}).get("fits", doc.get("max_rate") is not None)
    broke = doc.get("what_broke") or {}
    findings = "".join(f"<li>{text(f)}</li>" for f in broke.get("findings") or ())
    objectives = doc.get("objectives") or {}
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>paystorm capacity · {text(doc.get('scenario'))}</title>",
            f"<style>{CSS}</style></head><body>",
            f'<div class="verdict {"pass" if fits else "fail"}">{text(headline(doc))}'
            + (f"<small>{text(said)}</small>" if said else "")
            + "</div>",
            f"<h1>Capacity: {text(doc.get('scenario'))}</h1>",
            f'<p class="lede">{text(doc.get("description") or "")}</p>',
            "<p>Objectives: "
            + text(", ".join(f"{k} {v:g}" for k, v in objectives.items()))
            + "</p>",
            f"<h2>What broke first</h2><ul>{findings}</ul>" if findings else "",
            f'<h2>Every step</h2><img src="{uri}" alt="capacity steps chart">',
            table(STEP_HEAD, [[text(cell) for cell in row] for row in _step_rows(doc)]),
            '<p class="muted">Each step is a results folder under <code>steps/</code>; '
            "<code>paystorm report</code> builds its full report.</p>",
            "</body></html>",
            "",
        ]
    )

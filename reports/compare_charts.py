"""Runs overlaid on the same axes, one colour per run: success versus load, the timeline,
failures by cause, and latency and attempts. Pure functions of compared runs returning
matplotlib Figures; every series carries a gid naming its run (`<what>:<label>`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reports import charts, series
from reports.compare import Compared, attempt_shares, cause_shares, latency_cdf
from reports.distribution import ATTEMPTS_CAP
from reports.knee import find_knee

# One colour per run, apart from each other (tab10 order).
RUN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")


def run_colour(index: int) -> str:
    return RUN_COLOURS[index % len(RUN_COLOURS)]


def _title(compared: Sequence[Compared]) -> str:
    return " vs ".join(c.label for c in compared)


def success_vs_load(compared: Sequence[Compared]) -> Figure:
    """Per-second success rate against offered load for every run, each run's load-bin line
    and its knee (dotted, in the run's colour)."""
    fig = Figure(figsize=(10, 6), dpi=charts.DPI, layout="constrained")
    ax = fig.add_subplot()
    top = 1.0
    for i, c in enumerate(compared):
        colour = run_colour(i)
        points = [(p.offered, p.success_pct) for p in series.load_points(c.run)]
        shown = [(x, y) for x, y in points if y is not None]
        if shown:
            x, y = zip(*shown, strict=True)
            ax.scatter(x, y, s=14, color=colour, alpha=0.45, linewidths=0, gid=f"points:{c.label}")
            top = max(top, *x)
        knee = find_knee(c.run)
        judged = [(b.mean_offered, 100 * b.success_rate) for b in knee.bins if b.success_rate]
        if judged:
            bx, by = zip(*judged, strict=True)
            ax.plot(bx, by, color=colour, lw=1.6, label=c.label, gid=f"bins:{c.label}")
        else:
            ax.plot([], [], color=colour, lw=1.6, label=c.label)
        if knee.offered_per_s is not None:
            ax.axvline(
                knee.offered_per_s,
                color=colour,
                ls=":",
                lw=1.5,
                label=f"knee {c.label}: {knee.offered_per_s:,.0f}/s",
                gid=f"knee:{c.label}",
            )
    target = compared[0].run.scenario.slo.get("success_rate") if compared[0].run.scenario else None
    if target is not None:
        ax.axhline(100 * target, color="black", ls="--", lw=1, label=f"SLO ≥ {100 * target:g} %")
    ax.set_xlim(0, top * 1.05)
    ax.set_ylim(-3, 103)
    ax.set_xlabel("offered load (payments/s; one point per second)")
    ax.set_ylabel("success rate of had-credit payments (%)")
    ax.set_title(f"success rate vs offered load: {_title(compared)}", fontsize=12, loc="left")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    return fig


def _shade_runs(ax: Axes, compared: Sequence[Compared], label: bool) -> None:
    """Each run's fault windows in its colour; named once, in the first panel."""
    for i, c in enumerate(compared):
        for span in series.fault_spans(c.run):
            ax.axvspan(
                span.start_s,
                span.end_s,
                color=run_colour(i),
                alpha=0.08,
                lw=0,
                gid=f"fault:{c.label}",
                label=f"fault {span.kind} ({c.label})" if label else None,
            )


def timeline(compared: Sequence[Compared]) -> Figure:
    """Success rate, achieved rate (offered dashed) and p99 latency per second, every run on
    the same time axis; each run's fault windows shaded in its colour."""
    fig = Figure(figsize=(11, 9), dpi=charts.DPI, layout="constrained")
    success_ax, load_ax, latency_ax = fig.subplots(3, 1, sharex=True)
    end = 1.0
    p99s: list[float] = []
    for i, c in enumerate(compared):
        colour = run_colour(i)
        data = series.timeline(c.run)
        t = data.time + 0.5
        end = max(end, c.run.end_s)
        success_ax.plot(
            t, data.success_pct, color=colour, lw=1.3, label=c.label, gid=f"success:{c.label}"
        )
        load_ax.plot(
            t,
            data.succeeded,
            color=colour,
            lw=1.3,
            label=f"{c.label}: succeeded",
            gid=f"succeeded:{c.label}",
        )
        load_ax.plot(
            t,
            data.offered,
            color=colour,
            lw=0.9,
            ls="--",
            label=f"{c.label}: offered",
            gid=f"offered:{c.label}",
        )
        latency_ax.plot(t, data.p99_ms, color=colour, lw=1.2, label=c.label, gid=f"p99:{c.label}")
        p99s += [v for v in data.p99_ms if np.isfinite(v) and v > 0]
    for ax in (success_ax, load_ax, latency_ax):
        _shade_runs(ax, compared, label=ax is success_ax)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    success_ax.set_ylim(-3, 103)
    success_ax.set_ylabel("success rate (%)")
    success_ax.set_title("success rate of had-credit payments, per second", fontsize=10, loc="left")
    load_ax.set_ylim(bottom=0)
    load_ax.set_ylabel("payments/s")
    load_ax.set_title("achieved (succeeded) and offered payments", fontsize=10, loc="left")
    if p99s and max(p99s) / min(p99s) > charts.LOG_SPREAD:
        latency_ax.set_yscale("log")
    else:
        latency_ax.set_ylim(bottom=0)
    latency_ax.set_ylabel("p99 latency (ms)")
    latency_ax.set_title("p99 payment latency, per second", fontsize=10, loc="left")
    latency_ax.set_xlim(0, end)
    latency_ax.set_xlabel("time since start (s)")
    fig.suptitle(f"timeline: {_title(compared)}", fontsize=13, x=0.01, ha="left")
    return fig


def causes(compared: Sequence[Compared]) -> Figure:
    """Had-credit failures by final code, as a share of each run's had-credit payments."""
    codes, shares = cause_shares(compared)
    fig = Figure(figsize=(10, 1.5 + 0.5 * max(len(codes), 2)), dpi=charts.DPI, layout="constrained")
    ax = fig.add_subplot()
    height = 0.8 / len(compared)
    positions = np.arange(len(codes), dtype=np.float64)
    for j, c in enumerate(compared):
        values = shares[:, j] if codes else np.zeros(0)
        bars = ax.barh(
            positions + (j - (len(compared) - 1) / 2) * height,
            values,
            height=height,
            color=run_colour(j),
            label=c.label,
            gid=f"cause:{c.label}",
        )
        ax.bar_label(
            bars, labels=[f"{v:.2f} %" if v else "" for v in values], fontsize=7, padding=2
        )
    ax.set_yticks(positions, codes)
    ax.invert_yaxis()  # the largest cause on top
    ax.set_xlabel("had-credit failures (% of the run's had-credit payments)")
    ax.set_title(f"had-credit failures by cause: {_title(compared)}", fontsize=12, loc="left")
    ax.grid(True, alpha=0.3, axis="x")
    if not codes:
        ax.text(
            0.5,
            0.5,
            "no had-credit failures in any run",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
    ax.legend(loc="lower right", fontsize=8)
    return fig


def latency(compared: Sequence[Compared]) -> Figure:
    """Latency CDFs (log scale) and the share of payments by attempts, every run overlaid."""
    fig = Figure(figsize=(11, 5), dpi=charts.DPI, layout="constrained")
    cdf_ax, attempts_ax = fig.subplots(1, 2, width_ratios=[1.5, 1])
    width = 0.8 / len(compared)
    seen: list[int] = []  # attempt counts some run had
    for i, c in enumerate(compared):
        colour = run_colour(i)
        cdf = latency_cdf(c.run)
        if cdf is not None:
            x, y = cdf
            cdf_ax.plot(
                np.maximum(x, 0.01), y, color=colour, lw=1.4, label=c.label, gid=f"cdf:{c.label}"
            )
        shares = attempt_shares(c.run)
        if shares is not None:
            x, y = shares
            seen += [int(a) for a in x[y > 0]]
            attempts_ax.bar(
                x + (i - (len(compared) - 1) / 2) * width,
                y,
                width=width,
                color=colour,
                label=c.label,
                gid=f"attempts:{c.label}",
            )
    cdf_ax.set_xscale("log")
    cdf_ax.set_ylim(0, 100)
    for q in (50, 95, 99):
        cdf_ax.axhline(q, color="black", lw=0.6, ls=":")
    cdf_ax.set_xlabel("payment latency (ms, log scale)")
    cdf_ax.set_ylabel("payments at or below (%)")
    cdf_ax.set_title("latency distribution (cumulative)", fontsize=10, loc="left")
    cdf_ax.grid(True, alpha=0.3, which="both")
    if seen:
        ticks = list(range(min(seen), max(seen) + 1))
        names = [str(a) for a in ticks]
        if ticks[-1] == ATTEMPTS_CAP:
            names[-1] += "+"
        attempts_ax.set_xticks(ticks, names)
    attempts_ax.set_yscale("log")
    attempts_ax.set_xlabel("attempts (POST /v1/payments) per payment")
    attempts_ax.set_ylabel("payments (%)")
    attempts_ax.set_title("attempts per payment (retry amplification)", fontsize=10, loc="left")
    attempts_ax.grid(True, alpha=0.3, axis="y")
    for ax in (cdf_ax, attempts_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="lower right" if ax is cdf_ax else "upper right")
        else:
            ax.text(
                0.5, 0.5, "needs payments.jsonl", ha="center", va="center", transform=ax.transAxes
            )
    fig.suptitle(f"latency and retries: {_title(compared)}", fontsize=13, x=0.01, ha="left")
    return fig

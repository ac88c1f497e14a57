"""The report's charts, each a pure function of a run returning a matplotlib Figure.

No pyplot and no global state: figures are built with `matplotlib.figure.Figure` and saved
through the Agg canvas by `png(figure)`. Chart text stays in English: the only fonts
matplotlib can count on here (DejaVu) have no CJK glyphs.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from contract import palette
from contract.palette import ACHIEVED, FAILED, OFFERED, SUCCESS, UNKNOWN
from reports import series, wording
from reports.knee import find_knee
from reports.model import FloatArray, Run

# A latency panel switches to a log scale when its largest value exceeds the smallest this much.
LOG_SPREAD = 30.0
DPI = 110

SLO = Mapping[str, float]


def fault_colours(run: Run, labels: Iterable[str] = ()) -> dict[str, str]:
    """A colour per fault kind (same in every chart), then per combined label such as "a + b"."""
    return palette.fault_colours((f.kind for f in run.faults), labels)


_SERIES = (
    ("success", "success rate (had-credit payments)", "o", SUCCESS, 22),
    ("failed", "definite-failure rate", "v", FAILED, 14),
    ("unknown", "unknown-outcome rate", "s", UNKNOWN, 14),
)


def _scatter_series(ax: Axes, run: Run, handles: list[Artist]) -> None:
    """One scatter per series outside faults, one inside them (same marker, fault colour)."""
    points = series.load_points(run)
    colours = fault_colours(run, (p.fault for p in points if p.fault))
    for name, label, marker, colour, size in _SERIES:
        values = [(p.offered, getattr(p, f"{name}_pct"), p.fault) for p in points]
        calm = [(x, y) for x, y, fault in values if y is not None and fault is None]
        stormy = [(x, y, colours[fault]) for x, y, fault in values if y is not None and fault]
        if calm:
            x, y = zip(*calm, strict=True)
            ax.scatter(
                x,
                y,
                s=size,
                color=colour,
                alpha=0.65,
                linewidths=0,
                gid=f"series:{name}",
                marker=marker,
                zorder=3,
            )
        if stormy:
            x, y, fill = zip(*stormy, strict=True)
            ax.scatter(
                x,
                y,
                s=size * 1.3,
                c=list(fill),
                linewidths=0,
                alpha=0.9,
                gid=f"series:{name}:fault",
                marker=marker,
                zorder=4,
            )
        handles.append(Line2D([], [], ls="", marker=marker, color=colour, label=label))
    for label in sorted({p.fault for p in points if p.fault}):
        handles.append(Patch(facecolor=colours[label], label=f"in fault window: {label}"))


def success_vs_load(run: Run) -> Figure:
    """Success, definite-failure and unknown rate (%) against offered payments/s, per second.

    Points in a fault window are filled with the fault's colour; the SLO's success target is a
    dashed line, the knee a dotted vertical line, and the per-bin success rate a thin line.
    """
    fig = Figure(figsize=(10, 6), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    handles: list[Artist] = []
    _scatter_series(ax, run, handles)

    knee = find_knee(run)
    rates = [(b.mean_offered, b.success_rate) for b in knee.bins if b.level]
    judged = [(x, 100 * rate) for x, rate in rates if rate is not None]
    if judged:
        x, y = zip(*judged, strict=True)
        ax.plot(x, y, color=SUCCESS, lw=1.2, alpha=0.8, gid="bins:success")
        handles.append(Line2D([], [], color=SUCCESS, lw=1.2, label="success rate per load level"))

    target = run.scenario.slo.get("success_rate") if run.scenario else None
    if target is not None:
        ax.axhline(100 * target, color="black", ls="--", lw=1, gid="slo:success_rate")
        label = f"SLO: success ≥ {100 * target:g} %"
        handles.append(Line2D([], [], color="black", ls="--", lw=1, label=label))
    if knee.offered_per_s is not None:
        ax.axvline(knee.offered_per_s, color="black", ls=":", lw=1.5, gid="knee")
        # Near the right edge the label goes to the line's left, inside the axes.
        right_side = knee.offered_per_s > 0.7 * max(s.offered for s in run.seconds)
        text = f"knee {wording.knee_label(knee.as_dict())}"
        ax.annotate(
            text,
            (knee.offered_per_s, 0.5),
            xycoords=("data", "axes fraction"),
            xytext=(-5 if right_side else 5, 0),
            textcoords="offset points",
            ha="right" if right_side else "left",
            va="center",
            fontsize=10,
            fontweight="bold",
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "none"},
            gid="knee:label",
        )
    elif knee.status in ("one_rate", "broke_at_lowest"):
        # No knee to mark: say what the objectives did at the load offered.
        ax.text(
            0.02,
            0.04,
            f"knee {wording.knee_label(knee.as_dict())}",
            transform=ax.transAxes,
            fontsize=10,
            fontweight="bold",
            gid="knee:label",
        )

    top = max((s.offered for s in run.seconds), default=0)
    if top == 0:
        ax.text(
            0.5,
            0.5,
            "no payments were offered",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color=OFFERED,
        )
    ax.set_xlim(0, max(top, 1) * 1.05)
    ax.set_ylim(-3, 103)
    ax.set_title(f"{run.name}: success rate vs offered load", fontsize=13, loc="left")
    ax.set_xlabel("offered load (payments/s; one point per second)")
    ax.set_ylabel("share of payments (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.9)
    return fig


def shade_faults(run: Run, axes: Iterable[Axes], legend: list[Artist]) -> None:
    """Shade each fault window in every panel and name it at the panel's top edge."""
    spans = series.fault_spans(run)
    colours = fault_colours(run)
    for ax in axes:
        for span in spans:
            ax.axvspan(
                span.start_s,
                span.end_s,
                color=colours[span.kind],
                alpha=0.15,
                lw=0,
                gid=f"fault:{span.kind}",
            )
            ax.text(
                span.start_s,
                0.97,
                span.kind,
                transform=ax.get_xaxis_transform(),
                ha="left",
                va="top",
                fontsize=8,
                color=colours[span.kind],
                clip_on=True,
                # Readable over the data and the SLO lines that run along the top.
                bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1},
            )
    for kind in sorted({s.kind for s in spans}):
        legend.append(Patch(facecolor=colours[kind], alpha=0.3, label=f"fault: {kind}"))


def _load_panel(ax: Axes, t: FloatArray, data: series.Timeline) -> None:
    ax.plot(t, data.offered, color=OFFERED, lw=1.2, label="offered", gid="load:offered")
    ax.plot(
        t,
        data.succeeded,
        color=ACHIEVED,
        lw=1.2,
        label="achieved (succeeded)",
        gid="load:succeeded",
    )
    ax.plot(t, data.dropped, color=FAILED, lw=1, label="dropped", gid="load:dropped")
    ax.set_ylabel("payments/s")
    ax.set_ylim(bottom=0)
    ax.set_title("offered, achieved and dropped payments", fontsize=10, loc="left")


def _success_panel(ax: Axes, t: FloatArray, data: series.Timeline, slo: SLO) -> None:
    ax.plot(t, data.success_pct, color=SUCCESS, lw=1.2, label="success rate", gid="success")
    target = slo.get("success_rate")
    if target is not None:
        ax.axhline(
            100 * target,
            color="black",
            ls="--",
            lw=1,
            label=f"SLO ≥ {100 * target:g} %",
            gid="slo:success_rate",
        )
    ax.set_ylim(-3, 103)
    ax.set_ylabel("success rate (%)")
    ax.set_title("success rate of payments whose user had credit", fontsize=10, loc="left")


def _latency_panel(ax: Axes, t: FloatArray, data: series.Timeline, slo: SLO) -> None:
    targets = []
    for name, colour in (("p50", ACHIEVED), ("p95", UNKNOWN), ("p99", FAILED)):
        ax.plot(
            t, getattr(data, f"{name}_ms"), color=colour, lw=1.1, label=name, gid=f"latency:{name}"
        )
        target = slo.get(f"{name}_ms")
        if target is not None:
            targets.append(target)
            ax.axhline(
                target,
                color=colour,
                ls="--",
                lw=1,
                label=f"SLO {name} ≤ {target:g} ms",
                gid=f"slo:{name}_ms",
            )
    values = np.concatenate([data.p50_ms, data.p95_ms, data.p99_ms])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size and values.max() / values.min() > LOG_SPREAD:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    if targets:
        # Axis lines do not widen the view: keep every target in sight.
        ax.set_ylim(top=max(ax.get_ylim()[1], max(targets) * 1.25))
    ax.set_ylabel("latency (ms)")
    ax.set_title("payment latency, intended start to final outcome", fontsize=10, loc="left")


def timeline(run: Run) -> Figure:
    """Three panels over seconds since start: load, success rate, and latency percentiles.

    A second's values are drawn at its middle (t + 0.5), so they line up with fault windows;
    latency goes to a log scale when p99 and p50 lie far apart.
    """
    fig = Figure(figsize=(11, 9), dpi=DPI, layout="constrained")
    load_ax, success_ax, latency_ax = fig.subplots(3, 1, sharex=True)
    data = series.timeline(run)
    t = data.time + 0.5
    slo = run.scenario.slo if run.scenario else {}
    _load_panel(load_ax, t, data)
    _success_panel(success_ax, t, data, slo)
    _latency_panel(latency_ax, t, data, slo)
    latency_ax.set_xlabel("time since start (s)")
    latency_ax.set_xlim(0, max(run.end_s, 1.0))

    fault_legend: list[Artist] = []
    shade_faults(run, (load_ax, success_ax, latency_ax), fault_legend)
    for ax in (load_ax, success_ax, latency_ax):
        ax.grid(True, alpha=0.3)
    handles, _ = load_ax.get_legend_handles_labels()
    # Legends sit right of the panels, clear of the data and the fault labels.
    outside = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "fontsize": 8}
    load_ax.legend(handles=[*handles, *fault_legend], **outside)
    success_ax.legend(**outside)
    latency_ax.legend(**outside)
    if not run.seconds:
        load_ax.text(
            0.5,
            0.5,
            "no traffic was recorded",
            ha="center",
            va="center",
            transform=load_ax.transAxes,
            color=OFFERED,
        )
    fig.suptitle(f"{run.name}: timeline", fontsize=13, x=0.01, ha="left")
    return fig


def png(figure: Figure) -> bytes:
    """The figure rendered to PNG bytes through the Agg canvas."""
    FigureCanvasAgg(figure)  # attaches itself to the figure: no backend switching
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()

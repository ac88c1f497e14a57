"""The report's further charts: failures by cause over time, latency and attempts, and the
gateway's internals. Each is a pure function of a run returning a matplotlib Figure drawn
from the numbers in reports.causes, reports.distribution and reports.internals; every
series carries a gid, so tests can check what was drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from contract import palette
from contract.columns import BREAKER_STATES
from contract.palette import BREAKER_COLOURS, CAUSE_PALETTE, OUTCOME_COLOURS
from reports import charts
from reports.causes import causes_over_time
from reports.distribution import amplification, attempts_histogram, latency_histogram
from reports.internals import Internals, gateway_internals
from reports.model import Run


def _legend_outside(ax: Axes, handles: Sequence[Artist], title: str | None = None) -> None:
    """A legend right of the axes, clear of the data and the fault labels."""
    ax.legend(
        handles=list(handles), title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8
    )


def _message(ax: Axes, text: str) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        ha="center",
        va="center",
        transform=ax.transAxes,
        color=palette.OFFERED,
        wrap=True,
    )


def _time_axis(ax: Axes, run: Run) -> None:
    ax.set_xlim(0, max(run.end_s, 1.0))
    ax.set_xlabel("time since start (s)")
    ax.grid(True, alpha=0.3)


def causes(run: Run) -> Figure:
    """Had-credit failures per second by final code, stacked, over time; faults shaded."""
    fig = Figure(figsize=(11, 5.5), dpi=charts.DPI, layout="constrained")
    ax = fig.add_subplot()
    data = causes_over_time(run)
    bottom = np.zeros(data.time.size)
    for i, code in enumerate(data.codes):
        ax.bar(
            data.time,
            data.per_s[i],
            width=data.bucket_s,
            bottom=bottom,
            align="edge",
            color=CAUSE_PALETTE[i % len(CAUSE_PALETTE)],
            linewidth=0,
            label=code,
            gid=f"cause:{code}",
        )
        bottom = bottom + data.per_s[i]
    legend: list[Artist] = []
    charts.shade_faults(run, (ax,), legend)
    if not data.codes:
        _message(ax, "no had-credit failures: every payment whose user had credit succeeded")
    handles, _ = ax.get_legend_handles_labels()
    if handles or legend:
        _legend_outside(ax, [*handles, *legend], "final code")
    _time_axis(ax, run)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("had-credit failures (payments/s)")
    per = "each second" if data.bucket_s == 1 else f"mean of each {data.bucket_s}-s bucket"
    ax.set_title(
        f"{run.name}: had-credit failures by cause over time ({per}, by intended start; "
        f"from {data.source})",
        fontsize=12,
        loc="left",
    )
    return fig


def _latency_panel(ax: Axes, run: Run) -> None:
    data = latency_histogram(run)
    ax.set_title("latency distribution (log scale)", fontsize=10, loc="left")
    ax.set_xlabel("payment latency, intended start to final outcome (ms)")
    ax.set_ylabel("payments per bin")
    ax.set_xscale("log")
    if data is None:
        _message(ax, "needs payments.jsonl (per-payment latencies)")
        return
    for name, counts in data.counts.items():
        ax.stairs(
            counts,
            data.edges_ms,
            color=OUTCOME_COLOURS[name],
            lw=1.4,
            label=f"{name} ({int(counts.sum()):,})",
            gid=f"latency:{name}",
        )
    for q, style in (("p50", ":"), ("p95", "-."), ("p99", "--")):
        value = data.quantiles.get(q)
        if value is not None:
            ax.axvline(value, color="black", ls=style, lw=1, label=f"{q} {value:,.0f} ms", gid=q)
    target = run.scenario.slo.get("p99_ms") if run.scenario else None
    if target is not None:
        ax.axvline(
            target,
            color=palette.FAILED,
            ls="--",
            lw=1.2,
            label=f"SLO p99 ≤ {target:g} ms",
            gid="slo",
        )
    ax.set_xlim(data.edges_ms[0], data.edges_ms[-1])
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3, which="both")


def _attempts_panel(ax: Axes, run: Run) -> None:
    data = attempts_histogram(run)
    ax.set_xlabel("attempts (POST /v1/payments) per payment")
    ax.set_ylabel("payments")
    if data is None:
        ax.set_title("attempts per payment", fontsize=10, loc="left")
        _message(ax, "needs payments.jsonl with attempts")
        return
    labels = [str(a) for a in data.attempts]
    if data.capped:
        labels[-1] += "+"
    bars = ax.bar(labels, data.payments, color=palette.SUCCESS, gid="attempts")
    ax.bar_label(bars, labels=[f"{n:,}" for n in data.payments], fontsize=7)
    positive = [n for n in data.payments if n]
    if positive and max(positive) / min(positive) > 50:
        ax.set_yscale("log")  # retries are rare next to first tries: keep them visible
    mean = "n/a" if data.mean is None else f"{data.mean:.2f}"
    ax.set_title(f"attempts per payment (mean {mean})", fontsize=10, loc="left")
    ax.grid(True, alpha=0.3, axis="y")


def _amplification_panel(ax: Axes, run: Run) -> None:
    data = amplification(run)
    ax.plot(
        data.time + 0.5,
        data.attempts_per_payment,
        color=palette.UNKNOWN,
        lw=1.2,
        label="attempts per payment",
        gid="amplification",
    )
    ax.axhline(1.0, color="black", lw=0.8, ls=":")
    legend: list[Artist] = []
    charts.shade_faults(run, (ax,), legend)
    overall = "n/a" if data.overall is None else f"{data.overall:.2f}"
    ax.set_title(
        f"retry amplification: attempts per payment, by second of intended start "
        f"(whole run {overall})",
        fontsize=10,
        loc="left",
    )
    ax.set_ylabel("attempts per payment")
    ax.set_ylim(bottom=0)
    _time_axis(ax, run)
    if legend:
        ax.legend(handles=legend, fontsize=8, loc="upper right")


def latency(run: Run) -> Figure:
    """Latency distribution by outcome (log scale), attempts per payment, and attempts per
    payment over time (retry amplification)."""
    fig = Figure(figsize=(11, 8), dpi=charts.DPI, layout="constrained")
    axes = fig.subplot_mosaic([["latency", "attempts"], ["amp", "amp"]], width_ratios=[1.6, 1])
    _latency_panel(axes["latency"], run)
    _attempts_panel(axes["attempts"], run)
    _amplification_panel(axes["amp"], run)
    fig.suptitle(f"{run.name}: latency and retries", fontsize=13, x=0.01, ha="left")
    return fig


def _lines(ax: Axes, t: np.ndarray, series: Sequence[tuple[str, np.ndarray | None, str]]) -> None:
    for label, values, colour in series:
        if values is not None:
            ax.plot(t, values, lw=1.1, color=colour, label=label, gid=f"gateway:{label}")


def _breaker_panel(ax: Axes, data: Internals) -> None:
    channels = list(data.breakers)
    for span in data.breaker_spans:
        lane = channels.index(span.channel)
        ax.broken_barh(
            [(span.start_s, span.end_s - span.start_s)],
            (lane - 0.35, 0.7),
            color=BREAKER_COLOURS[span.state],
            gid=f"breaker:{span.channel}:{BREAKER_STATES[span.state]}",
        )
    ax.set_yticks(range(len(channels)), channels)
    ax.set_ylim(-0.6, len(channels) - 0.4)
    ax.set_title("channel circuit breakers (blank: closed)", fontsize=10, loc="left")
    handles = [
        Patch(color=colour, label=BREAKER_STATES[state])
        for state, colour in BREAKER_COLOURS.items()
    ]
    _legend_outside(ax, handles)


def gateway(run: Run) -> Figure:
    """Admission (in flight, queued), throughput (requests and shed per second), channel
    occupancy and breaker states, and the process's CPU and memory; faults shaded."""
    data = gateway_internals(run)
    if data is None:
        fig = Figure(figsize=(11, 3), dpi=charts.DPI, layout="constrained")
        ax = fig.add_subplot()
        _message(ax, "gateway_metrics.csv is absent: the gateway was not sampled")
        ax.set_axis_off()
        fig.suptitle(f"{run.name}: gateway internals", fontsize=13, x=0.01, ha="left")
        return fig
    panels = ["admission", "throughput"]
    panels += ["channels"] if data.channel_busy else []
    panels += ["breakers"] if data.breakers else []
    panels += ["process"]
    fig = Figure(figsize=(11, 2.4 * len(panels) + 0.6), dpi=charts.DPI, layout="constrained")
    axes = dict(zip(panels, fig.subplots(len(panels), 1, sharex=True), strict=True))
    t = data.time
    _lines(
        axes["admission"],
        t,
        [("in flight", data.inflight, palette.SUCCESS), ("queued", data.queued, palette.UNKNOWN)],
    )
    axes["admission"].set_ylabel("requests")
    axes["admission"].set_title("admission: requests in flight and queued", fontsize=10, loc="left")
    _lines(
        axes["throughput"],
        t,
        [
            ("requests/s", data.requests_per_s, palette.OFFERED),
            ("shed/s", data.shed_per_s, palette.FAILED),
        ],
    )
    axes["throughput"].set_ylabel("requests/s")
    axes["throughput"].set_title("requests handled and shed (503)", fontsize=10, loc="left")
    if "channels" in axes:
        for i, (channel, busy) in enumerate(data.channel_busy.items()):
            colour = CAUSE_PALETTE[i % len(CAUSE_PALETTE)]
            axes["channels"].plot(
                t, busy, lw=1.1, color=colour, label=channel, gid=f"busy:{channel}"
            )
        axes["channels"].set_ylabel("payments")
        axes["channels"].set_title("payments in progress per channel", fontsize=10, loc="left")
    if "breakers" in axes:
        _breaker_panel(axes["breakers"], data)
    process = axes["process"]
    _lines(process, t, [("CPU %", data.cpu_pct, palette.FAILED)])
    process.set_ylabel("CPU (% of one core)")
    memory = process.twinx()
    _lines(memory, t, [("RSS MiB", data.rss_mib, palette.SUCCESS)])
    memory.set_ylabel("resident memory (MiB)")
    memory.set_ylim(bottom=0)
    process.set_title("gateway process: CPU and memory", fontsize=10, loc="left")
    legend: list[Artist] = []
    charts.shade_faults(run, list(axes.values()), legend)
    for name, ax in axes.items():
        ax.grid(True, alpha=0.3)
        if name != "breakers":
            ax.set_ylim(bottom=0)
            handles, _ = ax.get_legend_handles_labels()
            if name == panels[0]:
                handles += legend
            if name == "process":
                # Inside the axes: the memory axis's label takes the right-hand side.
                handles += memory.get_legend_handles_labels()[0]
                ax.legend(handles=handles, loc="lower left", fontsize=8)
            elif handles:
                _legend_outside(ax, handles)
    _time_axis(axes[panels[-1]], run)
    if data.not_sampled:
        axes[panels[0]].set_title(
            f"not in gateway_metrics.csv: {', '.join(data.not_sampled)}",
            fontsize=8,
            loc="right",
            color=palette.OFFERED,
        )
    fig.suptitle(f"{run.name}: gateway internals", fontsize=13, x=0.01, ha="left")
    return fig

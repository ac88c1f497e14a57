"""The numbers behind the charts, and that the charts draw exactly those numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.artist import Artist
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from reports import charts, series
from reports.run import load_run
from tests.reports.conftest import ladder, row, scenario, write_run

FAULTS = [
    {"id": "a", "kind": "db_stall", "started_at_s": 2.5, "ended_at_s": 4.0},
    {"id": "b", "kind": "latency", "started_at_s": 3.2, "ended_at_s": 3.8},
    {"id": "c", "kind": "channel_outage", "started_at_s": 8.0, "ended_at_s": None},
]


def _by_gid(figure: Figure, gid: str) -> list[Artist]:
    return [a for a in figure.findobj() if a.get_gid() == gid]


def _offsets(figure: Figure, gid: str) -> list[list[float]]:
    [artist] = _by_gid(figure, gid)
    assert isinstance(artist, PathCollection)
    offsets: list[list[float]] = np.asarray(artist.get_offsets(), dtype=float).tolist()
    return offsets


def _line(figure: Figure, gid: str) -> tuple[list[float], list[float]]:
    [artist] = _by_gid(figure, gid)
    assert isinstance(artist, Line2D)
    x: list[float] = np.asarray(artist.get_xdata(), dtype=float).tolist()
    y: list[float] = np.asarray(artist.get_ydata(), dtype=float).tolist()
    return x, y


def _texts(figure: Figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(Text)]


@pytest.fixture
def stormy(run_dir: Path) -> Path:
    rows = [
        row(0, 0),
        row(1, 100, success=0.9, declined=10),
        row(2, 100, success=0.5, unknown_share=0.4),
        row(3, 200, success=0.5),
        row(4, 50, declined=50),  # nobody had credit: success undefined
        *[row(t, 100) for t in range(5, 10)],
    ]
    return write_run(run_dir, rows, faults=FAULTS)


def test_load_points(stormy: Path) -> None:
    points = series.load_points(load_run(stormy))
    assert [p.time for p in points] == list(range(1, 10))  # second 0 offered nothing
    p1, p2, _, p4 = points[:4]
    assert (p1.offered, p1.success_pct, p1.failed_pct, p1.unknown_pct) == (100, 90.0, 9.0, 0.0)
    assert (p2.success_pct, p2.failed_pct, p2.unknown_pct) == (50.0, 30.0, 20.0)
    assert p4.success_pct is None and p4.failed_pct == 0.0
    assert [p.fault for p in points] == [
        None,
        "db_stall",  # [2, 3) overlaps [2.5, 4)
        "db_stall + latency",
        None,  # db_stall ended at 4.0: second 4 is [4, 5)
        None,
        None,
        None,
        "channel_outage",  # open-ended: runs to the end
        "channel_outage",
    ]


def test_fault_spans_clip_to_the_run(stormy: Path) -> None:
    spans = series.fault_spans(load_run(stormy))
    assert [(s.kind, s.start_s, s.end_s, s.open_ended) for s in spans] == [
        ("db_stall", 2.5, 4.0, False),
        ("latency", 3.2, 3.8, False),
        ("channel_outage", 8.0, 60.0, True),  # run.json says 60 s
    ]


def test_success_vs_load_draws_the_points(stormy: Path) -> None:
    run = load_run(stormy)
    fig = charts.success_vs_load(run)
    [ax] = fig.axes
    assert ax.get_title(loc="left") == "flash-sale: success rate vs offered load"
    assert "payments/s" in ax.get_xlabel() and "(%)" in ax.get_ylabel()

    points = series.load_points(run)
    expected_calm = [
        [p.offered, p.success_pct] for p in points if not p.fault and p.success_pct is not None
    ]
    assert _offsets(fig, "series:success") == expected_calm
    assert _offsets(fig, "series:success:fault") == [[100, 50], [200, 50], [100, 100], [100, 100]]
    [faulty] = _by_gid(fig, "series:success:fault")
    assert isinstance(faulty, PathCollection)
    colours = charts.fault_colours(run, ["db_stall + latency"])
    fills = [to_hex(c) for c in np.asarray(faulty.get_facecolor())]
    assert fills == [
        colours[k] for k in ("db_stall", "db_stall + latency", *["channel_outage"] * 2)
    ]
    # seconds 1 and 4 to 7, outside faults, had no unknown outcomes
    assert [y for _, y in _offsets(fig, "series:unknown")] == [0.0] * 5
    assert _line(fig, "slo:success_rate")[1] == [99.0, 99.0]
    legend = ax.get_legend()
    assert legend is not None
    labels = [t.get_text() for t in legend.get_texts()]
    assert "in fault window: db_stall + latency" in labels and "SLO: success ≥ 99 %" in labels
    assert "definite-failure rate" in labels and "unknown-outcome rate" in labels


def test_success_vs_load_marks_the_knee(run_dir: Path) -> None:
    rates = range(20, 420, 20)
    write_run(run_dir, ladder(rates, {r: 0.8 for r in rates if r > 200}))
    fig = charts.success_vs_load(load_run(run_dir))
    assert _line(fig, "knee")[0] == [200.0, 200.0]
    assert "knee 200/s (broke at 220/s)" in _texts(fig)
    assert _line(fig, "bins:success")[1] == pytest.approx([100.0] * 10 + [80.0] * 10)


def test_timeline_draws_the_series(stormy: Path) -> None:
    run = load_run(stormy)
    fig = charts.timeline(run)
    load_ax, success_ax, latency_ax = fig.axes
    assert "flash-sale: timeline" in _texts(fig)
    assert latency_ax.get_xlabel() == "time since start (s)"
    assert [load_ax.get_ylabel(), success_ax.get_ylabel(), latency_ax.get_ylabel()] == [
        "payments/s",
        "success rate (%)",
        "latency (ms)",
    ]

    def ydata(gid: str) -> list[float]:
        return _line(fig, gid)[1]

    assert _line(fig, "load:offered")[0] == [t + 0.5 for t in range(10)]
    assert ydata("load:offered") == [0, 100, 100, 200, 50, 100, 100, 100, 100, 100]
    assert ydata("load:succeeded") == [0, 81, 50, 100, 0, 100, 100, 100, 100, 100]
    success = ydata("success")
    assert np.isnan(success[0]) and np.isnan(success[4]) and success[1:4] == [90, 50, 50]
    assert ydata("latency:p99")[1:] == [80.0] * 9
    assert latency_ax.get_yscale() == "linear"  # 20 to 80 ms is not a wide spread

    for kind, start, end in (("db_stall", 2.5, 4.0), ("channel_outage", 8.0, 60.0)):
        spans = _by_gid(fig, f"fault:{kind}")
        assert len(spans) == 3  # shaded in every panel
        for span in spans:
            assert isinstance(span, Rectangle)
            assert (span.get_x(), span.get_x() + span.get_width()) == (start, end)
        assert sum(t == kind for t in _texts(fig)) == 3  # and named in every panel


def test_timeline_log_scale_for_wide_latency(run_dir: Path) -> None:
    rows = [row(0, 10, latency_ms=(5, 50, 80)), row(1, 10, latency_ms=(20, 900, 4000))]
    write_run(run_dir, rows, scenario_doc=scenario({"p99_ms": 5000}))
    fig = charts.timeline(load_run(run_dir))
    latency_ax = fig.axes[2]
    assert latency_ax.get_yscale() == "log"
    assert latency_ax.get_ylim()[1] >= 5000  # the p99 objective stays in view


def test_charts_of_an_empty_run_render(run_dir: Path) -> None:
    write_run(run_dir, None, scenario_doc=scenario({}))
    run = load_run(run_dir)
    for figure in (charts.success_vs_load(run), charts.timeline(run)):
        assert charts.png(figure).startswith(b"\x89PNG\r\n\x1a\n")
    assert "no payments were offered" in _texts(charts.success_vs_load(run))


def test_png(stormy: Path) -> None:
    data = charts.png(charts.timeline(load_run(stormy)))
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000

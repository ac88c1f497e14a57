"""Causes over time, latency and attempts, gateway internals: the numbers, then the drawing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle, StepPatch
from matplotlib.text import Text

from reports import detail_charts
from reports.causes import bucket_width, cause_table, causes_over_time
from reports.distribution import amplification, attempts_histogram, latency_histogram, log_edges
from reports.internals import BreakerSpan, gateway_internals
from reports.run import load_run
from tests.reports.conftest import payment, row, write_run

OUTAGE = [{"id": "f1", "kind": "channel_outage", "started_at_s": 2.0, "ended_at_s": 4.0}]


def _by_gid(figure: Figure, gid: str) -> list[Artist]:
    return [a for a in figure.findobj() if a.get_gid() == gid]


def _bar_heights(figure: Figure, gid: str) -> list[float]:
    return [a.get_height() for a in _by_gid(figure, gid) if isinstance(a, Rectangle)]


def _line_y(figure: Figure, gid: str) -> list[float]:
    [line] = _by_gid(figure, gid)
    assert isinstance(line, Line2D)
    y: list[float] = np.asarray(line.get_ydata(), dtype=float).tolist()
    return y


def _texts(figure: Figure) -> str:
    return " ".join(t.get_text() for t in figure.findobj(Text))


def _pay(start_s: float, latency_ms: float | None, outcome: str = "succeeded", **kw: Any) -> Any:
    attempts = kw.pop("attempts", 1)
    p = payment(start_s, latency_ms, outcome, **kw)
    p["attempts"] = attempts
    return p


@pytest.fixture
def outage(run_dir: Path) -> Path:
    """Six seconds; a channel outage over seconds 2 and 3 fails had-credit payments."""
    payments = [
        _pay(0.1, 10.0),
        _pay(0.5, 100.0),
        _pay(1.2, 1000.0, "failed", code="SYSTEM_BUSY", attempts=3),
        _pay(2.1, 20.0, "failed", code="CHANNEL_UNAVAILABLE", attempts=2),
        _pay(2.2, 30.0, "failed", code="CHANNEL_UNAVAILABLE", attempts=2),
        _pay(3.9, None, "unknown", code="CLIENT_TIMEOUT", attempts=12),
        _pay(3.5, 5.0, "declined", code="INSUFFICIENT_CREDIT", had_credit=False),
        _pay(5.5, 40.0),
    ]
    rows = [
        row(0, 2),
        row(1, 1, success=0.0),
        row(2, 2, success=0.0, failure_code="CHANNEL_UNAVAILABLE"),
        row(3, 2, declined=1, success=0.0, unknown_share=1.0),
        row(4, 0),
        row(5, 1),
    ]
    gateway = [
        {
            "time": t,
            "inflight": 3 + t,
            "queued": t % 2,
            "requests_total": 100 * t,
            "shed_total": 0 if t < 3 else 5 * (t - 2),
            "cpu_seconds": 0.5 * t,
            "rss_bytes": 2**20 * (50 + t),
            "breaker_bank_a": [0, 0, 2, 2, 1, 0][t],
            "breaker_bank_b": 0,
            "channel_busy_bank_a": [4, 4, 0, 0, 1, 4][t],
        }
        for t in range(6)
    ]
    return write_run(run_dir, rows, payments=payments, faults=OUTAGE, gateway=gateway)


def test_causes_over_time_counts_each_second(outage: Path) -> None:
    data = causes_over_time(load_run(outage))
    assert data.bucket_s == 1 and data.source == "payments.jsonl"
    assert data.codes == ("CHANNEL_UNAVAILABLE", "CLIENT_TIMEOUT", "SYSTEM_BUSY")
    assert data.time.tolist() == [float(t) for t in range(60)]  # run.json: 60 s
    assert data.per_s[:, :6].tolist() == [
        [0, 0, 2, 0, 0, 0],
        [0, 0, 0, 1, 0, 0],
        [0, 1, 0, 0, 0, 0],
    ]
    assert data.per_s[:, 6:].sum() == 0  # the declined payment had no credit: not a cause


def test_causes_over_time_without_the_payment_log(run_dir: Path) -> None:
    write_run(run_dir, [row(0, 10, success=0.5), row(1, 10, success=0.8, failure_code="X")])
    data = causes_over_time(load_run(run_dir))
    assert data.source == "outcomes.csv"
    assert dict(zip(data.codes, data.per_s[:, :2].tolist(), strict=True)) == {
        "SYSTEM_BUSY": [5, 0],
        "X": [0, 2],
    }


@pytest.mark.parametrize(
    ("end_s", "width"), [(60, 1), (300, 1), (301, 2), (3600, 20), (86400, 600)]
)
def test_bucket_width(end_s: float, width: int) -> None:
    assert bucket_width(end_s) == width


def test_long_runs_are_bucketed_as_a_rate(run_dir: Path) -> None:
    payments = [_pay(t + 0.5, 10.0, "failed", code="SYSTEM_BUSY") for t in range(0, 600, 2)]
    write_run(run_dir, [row(0, 1)], payments=payments, info={"duration_s": 600})
    data = causes_over_time(load_run(run_dir))
    assert data.bucket_s == 5 and data.time.size == 120
    # Three failures every 5-s bucket at most (one each even second): 0.6 or 0.4 a second.
    assert set(np.round(data.per_s[0], 6).tolist()) == {0.6, 0.4}
    assert data.per_s[0].sum() * 5 == pytest.approx(300)


def test_cause_table(outage: Path) -> None:
    rows = {r.code: r for r in cause_table(load_run(outage))}
    assert list(rows) == ["CHANNEL_UNAVAILABLE", "CLIENT_TIMEOUT", "SYSTEM_BUSY"]
    unavailable = rows["CHANNEL_UNAVAILABLE"]
    assert (unavailable.payments, unavailable.in_faults, unavailable.peak_per_s) == (2, 2, 2)
    assert unavailable.share == pytest.approx(0.5)
    assert unavailable.meaning == "No payment channel is available."
    assert rows["SYSTEM_BUSY"].in_faults == 0 and rows["SYSTEM_BUSY"].first_s == 1
    assert "client gave up" in rows["CLIENT_TIMEOUT"].meaning


def test_causes_chart_stacks_the_counts(outage: Path) -> None:
    fig = detail_charts.causes(load_run(outage))
    [ax] = [a for a in fig.axes if a.get_ylabel()]
    assert ax.get_ylabel() == "had-credit failures (payments/s)"
    assert ax.get_xlabel() == "time since start (s)"
    assert _bar_heights(fig, "cause:CHANNEL_UNAVAILABLE")[:6] == [0, 0, 2, 0, 0, 0]
    bars = [a for a in _by_gid(fig, "cause:CLIENT_TIMEOUT") if isinstance(a, Rectangle)]
    assert (bars[3].get_x(), bars[3].get_y(), bars[3].get_height()) == (3, 0, 1)
    assert "by cause over time" in ax.get_title(loc="left")
    assert len(_by_gid(fig, "fault:channel_outage")) == 1


def test_latency_histogram(outage: Path) -> None:
    data = latency_histogram(load_run(outage))
    assert data is not None
    assert data.edges_ms[0] == 1.0 and data.edges_ms[-1] == 1000.0  # 5 ms to 1 s, whole decades
    assert len(data.edges_ms) == 31  # ten bins a decade
    assert {k: int(v.sum()) for k, v in data.counts.items()} == {
        "succeeded": 3,
        "declined": 1,
        "failed": 3,
    }
    assert data.no_latency == 1  # the client timeout has no latency
    # 1,000 ms lands in the last bin, 10 ms in the first bin of the second decade
    assert data.counts["failed"][-1] == 1 and data.counts["succeeded"][10] == 1
    assert data.quantiles["max"] == 1000.0


def test_log_edges() -> None:
    assert log_edges(0.5, 3).tolist() == pytest.approx(np.logspace(-1, 1, 21).tolist())
    assert log_edges(10, 10).tolist() == pytest.approx(np.logspace(1, 2, 11).tolist())


def test_attempts_histogram(outage: Path) -> None:
    data = attempts_histogram(load_run(outage))
    assert data is not None
    assert data.attempts == tuple(range(1, 11)) and data.capped
    assert data.payments == (4, 2, 1, 0, 0, 0, 0, 0, 0, 1)
    assert data.mean == pytest.approx((4 + 4 + 3 + 12) / 8)
    assert data.unrecorded == 0


def test_amplification_from_outcomes(outage: Path) -> None:
    data = amplification(load_run(outage))
    # conftest's row(): attempts = payments + definite failures
    assert data.attempts_per_payment[:4].tolist() == [1.0, 2.0, 2.0, 1.0]
    assert np.isnan(data.attempts_per_payment[4])
    assert data.overall == pytest.approx(11 / 8)


def test_latency_chart(outage: Path) -> None:
    run = load_run(outage)
    fig = detail_charts.latency(run)
    histogram = latency_histogram(run)
    assert histogram is not None
    [failed] = _by_gid(fig, "latency:failed")
    assert isinstance(failed, StepPatch)
    assert np.asarray(failed.get_data()[0]).tolist() == histogram.counts["failed"].tolist()
    latency_ax = failed.axes
    assert latency_ax is not None and latency_ax.get_xscale() == "log"
    assert "(ms)" in latency_ax.get_xlabel()
    assert _bar_heights(fig, "attempts") == [4, 2, 1, 0, 0, 0, 0, 0, 0, 1]
    assert _line_y(fig, "amplification")[:4] == [1.0, 2.0, 2.0, 1.0]
    [slo] = _by_gid(fig, "slo")
    assert isinstance(slo, Line2D) and np.asarray(slo.get_xdata()).tolist() == [
        1500,
        1500,
    ]  # p99 objective
    [attempts_ax] = [a for a in fig.axes if a.get_title(loc="left").startswith("attempts per")]
    assert attempts_ax.get_title(loc="left") == "attempts per payment (mean 2.88)"  # 23 / 8
    assert attempts_ax.get_xticklabels()[-1].get_text() == "10+"


def test_gateway_internals(outage: Path) -> None:
    data = gateway_internals(load_run(outage))
    assert data is not None
    assert data.inflight is not None and data.inflight.tolist() == [3, 4, 5, 6, 7, 8]
    assert data.queued is not None and data.queued.tolist() == [0, 1, 0, 1, 0, 1]
    assert data.requests_per_s is not None and data.requests_per_s[1:].tolist() == [100] * 5
    assert data.shed_per_s is not None and data.shed_per_s[1:].tolist() == [0, 0, 5, 5, 5]
    assert data.cpu_pct is not None and data.cpu_pct[1:].tolist() == [50.0] * 5
    assert data.rss_mib is not None and data.rss_mib[0] == 50
    assert list(data.breakers) == ["bank_a", "bank_b"]
    assert data.breaker_spans == (
        BreakerSpan("bank_a", 2, 2.0, 4.0),
        BreakerSpan("bank_a", 1, 4.0, 5.0),
    )
    assert data.channel_busy["bank_a"].tolist() == [4, 4, 0, 0, 1, 4]
    assert data.not_sampled == ()


def test_gateway_chart(outage: Path) -> None:
    fig = detail_charts.gateway(load_run(outage))
    assert _line_y(fig, "gateway:in flight") == [3, 4, 5, 6, 7, 8]
    assert _line_y(fig, "gateway:queued") == [0, 1, 0, 1, 0, 1]
    assert _line_y(fig, "busy:bank_a") == [4, 4, 0, 0, 1, 4]
    assert len(_by_gid(fig, "breaker:bank_a:open")) == 1
    assert len(_by_gid(fig, "breaker:bank_a:half-open")) == 1
    assert _by_gid(fig, "breaker:bank_b:open") == []
    assert len(_by_gid(fig, "fault:channel_outage")) == 5  # every panel
    assert "channel circuit breakers" in _texts(fig)


def test_gateway_chart_says_what_was_not_sampled(run_dir: Path) -> None:
    write_run(run_dir, [row(0, 1)], gateway=[{"time": 0, "inflight": 1, "requests_total": 5}])
    run = load_run(run_dir)
    data = gateway_internals(run)
    assert data is not None and data.breakers == {} and data.queued is None
    assert "breaker states" in data.not_sampled and "admission queue" in data.not_sampled
    fig = detail_charts.gateway(run)
    assert "not in gateway_metrics.csv: admission queue" in _texts(fig)
    assert len(fig.axes) == 4  # admission, throughput, process (and its memory axis)


def test_every_detail_chart_renders_without_optional_files(run_dir: Path) -> None:
    write_run(run_dir, [row(0, 10)])
    run = load_run(run_dir)
    assert latency_histogram(run) is None and attempts_histogram(run) is None
    assert gateway_internals(run) is None
    for draw in (detail_charts.causes, detail_charts.latency, detail_charts.gateway):
        fig = draw(run)
        assert fig.get_axes()
    assert "needs payments.jsonl" in _texts(detail_charts.latency(run))
    assert "gateway_metrics.csv is absent" in _texts(detail_charts.gateway(run))
    assert "no had-credit failures" in _texts(detail_charts.causes(run))

"""`paystorm compare`: the same channel outage with failover off and on, side by side."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from reports import compare_charts
from reports.compare import (
    attempt_shares,
    cause_shares,
    compare,
    delta_rows,
    delta_text,
    labels_for,
    latency_cdf,
)
from reports.compare_cli import main
from reports.run import load_run
from tests.reports.conftest import payment, row, run_info, scenario, write_run

OUTAGE = [{"id": "f1", "kind": "channel_outage", "started_at_s": 25.0, "ended_at_s": 55.0}]
RATE = 250


def _outage_run(parent: Path, failover: bool) -> Path:
    """80 s at 250/s; bank_a is down from 25 to 55 s. Without failover 60 % of the payments
    routed there fail (CHANNEL_UNAVAILABLE) and are retried twice; with it, 1 in 250 fails."""
    name = "channel-outage-failover" if failover else "channel-outage-no-failover"
    inside = 0.996 if failover else 0.4
    rows = [
        row(t, RATE, success=inside if 25 <= t < 55 else 1.0, failure_code="CHANNEL_UNAVAILABLE")
        for t in range(80)
    ]
    payments = [payment(t + 0.5, 40.0 + t) for t in range(80)]
    if not failover:
        for p in payments[25:55]:
            p.update(outcome="failed", code="CHANNEL_UNAVAILABLE", attempts=3, latency_ms=400.0)
    return write_run(
        parent / f"{name}-20261125T170000Z",
        rows,
        scenario_doc=scenario({"success_rate": 0.99, "p99_ms": 1500}, name=name, duration_s=80),
        info=run_info(scenario=name, duration_s=80),
        faults=OUTAGE,
        payments=payments,
    )


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    return _outage_run(tmp_path, failover=False), _outage_run(tmp_path, failover=True)


def _by_gid(figure: Figure, gid: str) -> list[Artist]:
    return [a for a in figure.findobj() if a.get_gid() == gid]


def test_the_delta_table_shows_the_failover_gap(runs: tuple[Path, Path]) -> None:
    compared = compare([load_run(p) for p in runs])
    assert [c.label for c in compared] == ["channel-outage-no-failover", "channel-outage-failover"]
    rows = {r.name: r for r in delta_rows(compared)}
    inside = rows["success rate in fault windows"]
    assert inside.values == pytest.approx((0.4, 0.996))
    assert inside.deltas[0] is None and inside.deltas[1] == pytest.approx(0.596)
    assert delta_text(inside.unit, inside.deltas[1]) == "+59.60 pp"
    assert rows["success rate outside fault windows"].values == (1.0, 1.0)
    overall = rows["success rate"]
    # 30 of 80 seconds in the outage: 30 x 150 failures without failover, 30 x 1 with it
    assert overall.values == pytest.approx((1 - 4500 / 20000, 1 - 30 / 20000))
    assert rows["had-credit failures"].values == (4500, 30)
    assert rows["had-credit failures"].deltas[1] == -4470
    assert rows["attempts per payment"].values == pytest.approx((24500 / 20000, 20030 / 20000))
    assert "ghost charges" not in rows  # neither run was reconciled


def test_cause_shares_and_latency_curves(runs: tuple[Path, Path]) -> None:
    compared = compare([load_run(p) for p in runs])
    codes, shares = cause_shares(compared)
    # from payments.jsonl: 30 of the 80 logged payments failed in the run without failover
    assert codes == ("CHANNEL_UNAVAILABLE",)
    assert shares[0].tolist() == pytest.approx([100 * 30 / 20000, 0.0])
    off = attempt_shares(compared[0].run)
    assert off is not None and off[1][1] == pytest.approx(100 * 50 / 80)
    assert off[1][3] == pytest.approx(100 * 30 / 80)
    cdf = latency_cdf(compared[1].run)
    assert cdf is not None
    assert cdf[0][0] == 40.0 and cdf[0][-1] == 119.0 and cdf[1][-1] == 100.0


def test_overlaid_charts_draw_each_run(runs: tuple[Path, Path]) -> None:
    compared = compare([load_run(p) for p in runs])
    fig = compare_charts.timeline(compared)
    for c in compared:
        [line] = _by_gid(fig, f"success:{c.label}")
        assert isinstance(line, Line2D)
        y = np.asarray(line.get_ydata(), dtype=float)
        inside = 40.0 if c.label.endswith("no-failover") else 99.6
        assert y[25:55].tolist() == pytest.approx([inside] * 30)
        assert y[:25].tolist() == [100.0] * 25
        assert len(_by_gid(fig, f"fault:{c.label}")) == 3  # shaded in every panel
    [ax] = [a for a in fig.axes if a.get_ylabel() == "success rate (%)"]
    assert ax.get_xlabel() == "" and fig.axes[-1].get_xlabel() == "time since start (s)"

    causes = compare_charts.causes(compared)
    widths = {
        c.label: [
            a.get_width() for a in _by_gid(causes, f"cause:{c.label}") if isinstance(a, Rectangle)
        ]
        for c in compared
    }
    assert widths == {
        "channel-outage-no-failover": [pytest.approx(0.15)],
        "channel-outage-failover": [0.0],
    }
    svl = compare_charts.success_vs_load(compared)
    assert len(_by_gid(svl, "points:channel-outage-failover")) == 1
    for draw in (compare_charts.latency,):
        bars = [a for a in draw(compared).findobj(Rectangle) if a.get_gid()]
        assert {a.get_gid() for a in bars} == {f"attempts:{c.label}" for c in compared}


def test_labels_disambiguate_runs_of_the_same_scenario(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a" / "steady-1", [row(0, 1)])
    b = write_run(tmp_path / "b" / "steady-2", [row(0, 1)])
    c = write_run(tmp_path / "c" / "steady-2", [row(0, 1)])
    d = write_run(tmp_path / "d", [row(0, 1)], scenario_doc=scenario(name="other"))
    runs = [load_run(p) for p in (a, b, c, d)]
    assert labels_for(runs) == ("steady-1", "steady-2 #2", "steady-2 #3", "other")


def test_cli_writes_the_comparison(
    runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "compare"
    assert main([str(runs[0]), str(runs[1]), "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert line == f"{out / 'compare.html'}: success rate 77.5 % → 99.85 % (+22.35 pp)\n"
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == [
        "charts/causes.png",
        "charts/latency.png",
        "charts/success_vs_load.png",
        "charts/timeline.png",
        "compare.html",
        "compare.json",
        "compare.md",
    ]
    md = (out / "compare.md").read_text()
    assert "| success rate in fault windows | 40 % | 99.6 % (+59.60 pp) |" in md
    assert "- **channel-outage-no-failover**: SLO failed: success_rate" in md
    page = (out / "compare.html").read_text()
    assert page.count('src="data:image/png;base64,') == 4 and "http://" not in page
    assert '<span class="ok">+59.60 pp</span>' in page
    data = json.loads((out / "compare.json").read_text())
    assert data["baseline"] == "channel-outage-no-failover"
    [inside] = [m for m in data["measures"] if m["name"] == "success rate in fault windows"]
    assert inside["values"] == pytest.approx([0.4, 0.996])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ONE"], "give at least two runs to compare, got 1"),
        (["ONE", "MISSING"], "nope: no such directory"),
        (["ONE", "BROKEN"], "outcomes.csv line 2, column 'succeeded': expected a whole number"),
        (["ONE", "ONE", "--out", "ONE"], "is a results folder; write the comparison elsewhere"),
    ],
)
def test_cli_errors_are_one_line_exit_2(
    runs: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    needle: str,
) -> None:
    broken = write_run(tmp_path / "broken", [row(0, 1)])
    text = (broken / "outcomes.csv").read_text().splitlines()
    (broken / "outcomes.csv").write_text(text[0] + "\n0,1,1,0,1,1,0,1,one,0,0,0,20,50,80\n")
    paths = {"ONE": str(runs[0]), "MISSING": str(tmp_path / "nope"), "BROKEN": str(broken)}
    argv = [paths.get(a, a) for a in args]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("paystorm compare: ") and needle in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()  # nothing written, not even the folder


def test_paystorm_compare_dispatches(runs: tuple[Path, Path], tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "paystorm", "compare", *map(str, runs)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "--out" in done.stderr and done.stderr.count("\n") == 1
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-m",
            "paystorm",
            "compare",
            *map(str, runs),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (out / "compare.html").exists()

"""report.html, summary.md and slo.junit.xml from a summary."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from reports.pages import render_html, render_junit, render_markdown
from reports.run import Run, load_run
from reports.summary import summarize
from tests.reports.conftest import payment, row, scenario, write_run

PNG = b"\x89PNG\r\n\x1a\nnot really a png"


def _failing(run_dir: Path) -> tuple[Run, dict[str, Any]]:
    slo = {"success_rate": 0.99, "p99_ms": 1500, "ghost_charges": 0}
    write_run(
        run_dir,
        [row(0, 100, success=0.9), row(1, 100)],
        scenario_doc=scenario(slo, description="Spike | with a <b>tag</b>"),
        faults=[{"id": "f1", "kind": "latency", "started_at_s": 1.0, "ended_at_s": 2.0}],
        audit={"ok": False, "checks": {"closed_loop": {"ok": False, "detail": "3 pending"}}},
        payments=[payment(0.1, 20.0), payment(0.2, 30.0, "failed", code="SYSTEM_BUSY")],
    )
    (run_dir / "locust.html").write_text("")
    run = load_run(run_dir)
    return run, summarize(run)


def test_html_is_self_contained_with_verdict_first(run_dir: Path) -> None:
    run, summary = _failing(run_dir)
    page = render_html(run, summary, {"success_vs_load": PNG, "timeline": PNG})
    body = page.split("<body>", 1)[1]
    first = re.sub(r"<[^>]+>", " ", body.split("</div>", 1)[0]).strip()
    assert first.startswith("SLO failed: success_rate, ghost_charges")
    assert page.count('src="data:image/png;base64,') == 2
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<script" not in page and "@import" not in page
    assert 'href="locust.html"' in page  # a relative link, inside the run folder
    assert "&lt;b&gt;tag&lt;/b&gt;" in page  # text is escaped
    assert "95 %" in page  # the success rate headline: 190 of 200 had-credit payments
    assert "SYSTEM_BUSY" in page and "closed_loop" in page and "3 pending" in page
    assert "127.0.0.1:41234" in page


def test_html_when_slo_met(run_dir: Path) -> None:
    write_run(run_dir, [row(0, 10)], scenario_doc=scenario({"success_rate": 0.9}))
    run = load_run(run_dir)
    page = render_html(run, summarize(run), {})
    assert '<div class="verdict pass">SLO met</div>' in page


def test_markdown(run_dir: Path) -> None:
    _, summary = _failing(run_dir)
    text = render_markdown(summary)
    assert text.startswith("## ❌ flash-sale: SLO failed: success_rate, ghost_charges")
    assert "| success_rate | ≥ 99 % | 95 % | ❌ failed |" in text
    assert "| p99_ms | ≤ 1,500 ms | 30 ms | ✅ passed |" in text
    assert "| ghost_charges | ≤ 0 | unknown [1] | ❌ failed |" in text
    assert "[1] ghost_charges: no reconcile.json in the run folder" in text
    assert "Spike \\| with a &lt;b&gt;tag&lt;/b&gt;" in text  # no table break, no raw HTML
    assert "| SYSTEM_BUSY | 1 |" in text


def test_junit_one_case_per_objective(run_dir: Path) -> None:
    _, summary = _failing(run_dir)
    root = ET.fromstring(render_junit(summary))
    [suite] = root.findall("testsuite")
    # The three objectives set, and the open model's implicit one on drops.
    assert (suite.get("tests"), suite.get("failures")) == ("4", "2")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["success_rate", "p99_ms", "ghost_charges", "dropped_rate"]
    assert cases["p99_ms"].find("failure") is None
    failure = cases["success_rate"].find("failure")
    assert failure is not None and failure.get("message") == "success_rate 95 % (target ≥ 99 %)"
    ghost = cases["ghost_charges"].find("failure")
    assert ghost is not None and "reconcile.json" in (ghost.get("message") or "")


def test_junit_without_objectives(run_dir: Path) -> None:
    closed = scenario({}, load={"model": "users", "stages": []})
    write_run(run_dir, [row(0, 10)], scenario_doc=closed)
    root = ET.fromstring(render_junit(summarize(load_run(run_dir))))
    [suite] = root.findall("testsuite")
    assert suite.get("tests") == "0" and suite.findall("testcase") == []


def test_html_cause_table_and_locust_section(run_dir: Path) -> None:
    faults = [{"id": "f1", "kind": "channel_outage", "started_at_s": 1.0, "ended_at_s": 2.0}]
    payments = [
        payment(0.5, 10.0, "failed", code="SYSTEM_BUSY"),
        payment(1.2, 10.0, "failed", code="CHANNEL_UNAVAILABLE"),
        payment(1.7, 10.0, "failed", code="CHANNEL_UNAVAILABLE"),
        payment(1.9, 10.0, "failed", code="CHANNEL_UNAVAILABLE"),
    ]
    write_run(
        run_dir, [row(0, 1, success=0.0), row(1, 3, success=0.0)], payments=payments, faults=faults
    )
    (run_dir / "locust_stats.csv").write_text(
        "Type,Name,Request Count,Failure Count,Median Response Time,95%,99%,Max Response Time,"
        "Requests/s\nPOST,/v1/payments,4,4,6,9,10,11,2.5\n"
    )
    run = load_run(run_dir)
    page = render_html(run, summarize(run), {})
    cells = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    assert "CHANNEL_UNAVAILABLE No payment channel is available. 3 75 % 100 % 3 1\u20131" in cells
    assert "SYSTEM_BUSY The system is busy. 1 25 % 0 % 1 0\u20130" in cells
    assert "Requests by endpoint (Locust)" in page and "/v1/payments" in page
    assert "success in fault windows" in page  # a card: the run had a fault window

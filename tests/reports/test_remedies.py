"""The report names the remedies that address the top causes of had-credit failures."""

from __future__ import annotations

import html
import re
from pathlib import Path

from reports.pages import render_html
from reports.remedies import CATALOGUE, remedies_for
from reports.run import load_run
from reports.summary import summarize
from tests.reports.conftest import payment, row, write_run


def test_every_cause_the_client_or_gateway_ends_on_has_a_remedy() -> None:
    for code in ("CLIENT_TIMEOUT", "CHANNEL_UNAVAILABLE", "SYSTEM_BUSY", "RISK_DECLINED"):
        [(named, remedies)] = remedies_for({code: 1})
        assert named == code and remedies, code
    assert len({r.name for r in CATALOGUE}) == len(CATALOGUE)


def test_top_causes_most_first_and_at_most_three() -> None:
    causes = {"SYSTEM_BUSY": 5, "CHANNEL_UNAVAILABLE": 50, "RISK_DECLINED": 9, "X": 1}
    assert [code for code, _ in remedies_for(causes)] == [
        "CHANNEL_UNAVAILABLE",
        "RISK_DECLINED",
        "SYSTEM_BUSY",
    ]


def test_the_report_names_the_remedies_for_its_top_causes(run_dir: Path) -> None:
    payments = [payment(0.5, 10.0, "failed", code="CHANNEL_UNAVAILABLE") for _ in range(3)]
    payments.append(payment(1.5, 10.0, "failed", code="RISK_DECLINED"))
    write_run(run_dir, [row(0, 3, success=0.0), row(1, 1, success=0.0)], payments=payments)
    run = load_run(run_dir)
    page = render_html(run, summarize(run), {})
    cells = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    assert "Remedies for the top causes" in cells
    assert "CHANNEL_UNAVAILABLE multi-channel failover: route a payment" in cells
    assert "RISK_DECLINED dynamic risk thresholds (advice):" in cells
    assert cells.index("CHANNEL_UNAVAILABLE multi") < cells.index("RISK_DECLINED dynamic")

"""report.html and compare.html opened in Debian's headless Chromium: every chart renders,
nothing is fetched from the network, and a screenshot is taken."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.build import CHARTS, build_report
from reports.compare_cli import CHARTS as COMPARE_CHARTS
from reports.compare_cli import main as compare_main
from tests.needs import require, require_module
from tests.reports.conftest import payments_for, row, write_run

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
# Every <img>: loaded, and decoded to a real picture.
IMAGES = (
    "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
)


def _run(path: Path, failover: bool) -> Path:
    inside = 0.996 if failover else 0.4
    rows = [row(t, 100, success=inside if 10 <= t < 20 else 1.0) for t in range(30)]
    payments = payments_for(rows)
    gateway = [
        {"time": t, "inflight": 5, "queued": 0, "requests_total": 200 * t, "breaker_bank_a": 0}
        for t in range(30)
    ]
    faults = [{"id": "f1", "kind": "channel_outage", "started_at_s": 10.0, "ended_at_s": 20.0}]
    return write_run(path, rows, payments=payments, gateway=gateway, faults=faults)


def _open(page: Any, path: Path, requested: list[str]) -> list[list[Any]]:
    """Load a local page, recording every request that is not the page itself or a data: URI."""

    def record(route: Any) -> None:
        url = route.request.url
        if url == path.as_uri():
            route.continue_()
        else:
            requested.append(url)
            route.abort()

    page.route("**/*", record)
    page.goto(path.as_uri(), wait_until="load")
    images: list[list[Any]] = page.evaluate(IMAGES)
    return images


def test_report_and_comparison_render_every_chart(tmp_path: Path) -> None:
    require(CHROMIUM.exists(), "needs Debian's Chromium: apt-get install -y chromium")
    sync_api = require_module("playwright.sync_api", "needs the playwright package")
    off = _run(tmp_path / "channel-outage-no-failover-1", failover=False)
    on = _run(tmp_path / "channel-outage-failover-1", failover=True)
    report = build_report(off).html_path
    assert compare_main([str(off), str(on), "--out", str(tmp_path / "compare")]) == 0
    comparison = tmp_path / "compare" / "compare.html"

    requested: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=FLAGS, timeout=30_000
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)

            images = _open(page, report, requested)
            assert len(images) == len(CHARTS)
            for alt, complete, width, height in images:
                assert complete and width > 500 and height > 200, alt
            first = page.locator("body > *").first
            assert first.inner_text().startswith("SLO failed: success_rate")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            # The full page holds five charts: far taller than the window.
            assert page.evaluate("document.body.scrollHeight") > 3 * 900

            page = browser.new_page(viewport={"width": 1280, "height": 900})
            images = _open(page, comparison, requested)
            assert len(images) == len(COMPARE_CHARTS)
            assert all(complete and width > 500 for _, complete, width, _ in images)
            page.get_by_text("success rate in fault windows").wait_for()
            compare_shot = tmp_path / "compare.png"
            page.screenshot(path=str(compare_shot), full_page=True)
        finally:
            browser.close()
    assert requested == []  # self-contained: not one request beyond the file itself
    for png in (shot, compare_shot):
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and png.stat().st_size > 50_000

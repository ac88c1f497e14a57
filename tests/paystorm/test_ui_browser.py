"""`paystorm ui` in Debian's headless Chromium, as a new user meets it: the scenario first,
one click to start, the live payments view within seconds, a fault added beside the charts and
seen active, Stop, and the report being built. Screenshots of the start page and the live view
are taken; with PAYSTORM_SCREENSHOTS=<folder> (`make ui-screenshots`) they are kept there."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.needs import require, require_module
from tests.paystorm.ui_support import CHROMIUM, CHROMIUM_FLAGS, SCENARIO, Ui, paystorm_ui

VIEWPORT = {"width": 1400, "height": 1000}
PERCENT = re.compile(r"^\d{1,3}\.\d\d %$")


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ui-browser") / f"{SCENARIO['name']}.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    return path


@pytest.fixture(scope="module")
def ui(scenario_file: Path) -> Iterator[Ui]:
    with paystorm_ui("--scenario", str(scenario_file), "--out", str(scenario_file.parent)) as ui:
        yield ui


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def test_a_person_starts_a_scenario_watches_it_live_and_injects_a_fault(
    ui: Ui, tmp_path: Path
) -> None:
    require(CHROMIUM.exists(), "needs Debian's Chromium: apt-get install -y chromium")
    sync_api = require_module("playwright.sync_api", "needs the playwright package")
    shots = {"start": tmp_path / "web-ui-start.png", "live": tmp_path / "web-ui-live.png"}
    requested: list[str] = []
    errors: list[str] = []  # the page's own uncaught errors
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, timeout=30_000
        )
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(15_000)
            page.on("request", lambda r: requested.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(ui.url)

            # The scenario first, with no click: picker open, description, shape, objectives.
            picker = page.locator("#ps-pick")
            picker.wait_for()
            assert picker.get_attribute("size") is not None  # a list, not a closed dropdown
            options = picker.locator("option").all_inner_texts()
            assert "flash-sale" in options and f"{SCENARIO['name']} (file)" in options
            assert page.locator("#ps-description").inner_text() == SCENARIO["description"]
            assert page.locator("#ps-users").get_attribute("readonly") is not None
            assert page.locator("#ps-host").input_value() == ui.gateway
            assert "SYSTEM_BUSY" in page.locator("#ps-card").inner_text()  # the fault timeline
            assert not page.locator("#root").is_visible()  # Locust's stock form stays hidden
            page.screenshot(path=str(shots["start"]))

            page.locator("#ps-start-button").click()
            page.locator("#ps-state", has_text="running").wait_for()
            # Within seconds the view reads paystorm's numbers, the recorder's, not Locust's.
            page.locator("#ps-legend-load", has_text="fault: error").wait_for(timeout=20_000)
            page.wait_for_function(
                "document.querySelector('#ps-success .v').textContent.includes('%')"
            )
            assert PERCENT.match(page.locator("#ps-success .v").inner_text())
            assert _number(page.locator("#ps-offered .v").inner_text()) > 0
            assert _number(page.locator("#ps-dropped .v").inner_text()) >= 0
            assert page.locator("#ps-faults tr.active td.kind", has_text="error").count() == 1
            objective = page.locator('[data-objective="success_rate"]')
            assert re.search(r"(met|failing) — \d", objective.inner_text())

            # A fault added from the same view, its form built from the kind's own schema.
            page.locator("#ps-kind").select_option("latency")
            page.locator('[data-field="params.ms"]').fill("5")
            page.locator('[data-field="target.route"]').select_option("account")
            page.locator('[data-field="target.probability"]').fill("1")
            page.locator("#ps-duration").fill("60")
            page.locator("#ps-add-button").click()
            page.locator("#ps-faults tr.active td.kind", has_text="latency").wait_for()
            page.locator("#ps-active .v", has_text="latency").wait_for()
            page.screenshot(path=str(shots["live"]))
            latency = [f for f in ui.gateway_faults() if f["kind"] == "latency"]
            assert [(f["state"], f["target"]["route"]) for f in latency] == [("active", "account")]

            # A bad value is refused by the gateway, and the form says which field.
            page.locator('[data-field="params.ms"]').fill("-1")
            page.locator("#ps-add-button").click()
            page.locator("#ps-message.error", has_text="params.ms").wait_for()
            assert "bad" in (page.locator('[data-field="params.ms"]').get_attribute("class") or "")

            page.locator("#ps-stop").click()
            page.locator("#ps-state", has_text="stopped").wait_for()
            # Stopped by the button, before the scenario's end (the clock stops with the load).
            elapsed, planned = page.locator("#ps-clock .v").inner_text().split(" s")[0].split(" / ")
            assert int(elapsed) < int(planned) == SCENARIO["duration_s"]
            page.locator("#ps-clear").click()
            page.locator("#ps-message", has_text="cleared").wait_for()
            # The folder is finished and its report linked meanwhile (about half a minute
            # here; test_ui_live.py waits for it).
            assert "report being built" in page.locator("#ps-report").inner_text(timeout=5000)
        finally:
            browser.close()
    assert ui.gateway_faults() == []
    assert errors == []
    assert all(url.startswith(ui.url) for url in requested), set(requested)  # nothing else
    keep = os.environ.get("PAYSTORM_SCREENSHOTS")
    for shot in shots.values():
        data = shot.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 30_000
        if keep:
            shutil.copy(shot, Path(keep) / shot.name)

"""End to end: `paystorm ui` as a user runs it — the gateway and Locust's web UI as real
subprocesses, driven over HTTP and from a real headless Chromium."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scenarios.loader import catalogue
from tests.needs import require, require_module

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A catalogue scenario with a fault timeline at a modest rate (150/s): stopped after seconds.
TIMELINE_SCENARIO = "risk-strict"
UI_LINE = re.compile(r"Locust web UI on (http://127\.0\.0\.1:\d+) ")
GATEWAY_LINE = re.compile(r"gateway (http://127\.0\.0\.1:\d+)$", re.M)


@dataclass
class Ui:
    proc: subprocess.Popen[str]
    url: str
    gateway: str
    lines: queue.Queue[str]

    def children(self) -> dict[int, str]:
        """pid -> command line of every process `paystorm ui` started."""
        found = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.proc.pid:
                found[int(stat.parent.name)] = cmdline.replace(b"\0", b" ").decode()
        return found

    def gateway_token(self) -> str:
        """The admin token, from the gateway's environment (the one place it was put)."""
        (pid,) = [pid for pid, argv in self.children().items() if "mock_gateway" in argv]
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        (token,) = [e.split(b"=", 1)[1] for e in environ if e.startswith(b"PAYSTORM_ADMIN_TOKEN=")]
        return token.decode()


def _read_lines(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


@pytest.fixture(scope="module")
def ui() -> Iterator[Ui]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "paystorm", "ui", "--web-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives it
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while "Ctrl-C stops both" not in "".join(seen):
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        output = "".join(seen)
        url, gateway = UI_LINE.search(output), GATEWAY_LINE.search(output)
        assert url and gateway, output
        yield Ui(proc, url.group(1), gateway.group(1), lines)
    except queue.Empty:
        pytest.fail(f"paystorm ui did not start: {''.join(seen)}")
    finally:
        if proc.poll() is None:  # a failed test left it running
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=30)
        reader.join(timeout=10)  # it ends with the output
        assert proc.stdout is not None
        proc.stdout.close()


def _call(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _swarm(ui: Ui, **form: str) -> dict[str, Any]:
    data = "&".join(f"{k}={v}" for k, v in form.items()).encode()
    with urllib.request.urlopen(f"{ui.url}/swarm", data=data, timeout=10) as resp:
        result: dict[str, Any] = json.load(resp)
    return result


def _template_args(ui: Ui) -> tuple[str, dict[str, Any]]:
    with urllib.request.urlopen(f"{ui.url}/", timeout=10) as resp:
        page = resp.read().decode()
    found = re.search(r"window\.templateArgs = (.*)\n", page)
    assert found, page[:500]
    return page, json.loads(found.group(1))


def _gateway_faults(ui: Ui) -> list[dict[str, Any]]:
    status, body = _call(
        f"{ui.gateway}/_chaos/faults", headers={"Authorization": f"Bearer {ui.gateway_token()}"}
    )
    assert status == 200, body
    faults: list[dict[str, Any]] = body["faults"]
    return faults


def _active_on_gateway_metrics(ui: Ui, kind: str) -> bool:
    with urllib.request.urlopen(f"{ui.gateway}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return bool(re.search(rf'paystorm_fault_active\{{kind="{kind}"\}} 1(\.0)?$', text, re.M))


def test_the_ui_offers_the_catalogue_and_proxies_the_chaos_api(ui: Ui) -> None:
    page, args = _template_args(ui)
    assert args["extra_options"]["scenario"]["choices"] == catalogue()
    assert args["extra_options"]["scenario"]["default_value"] == "steady"
    assert "results_dir" not in args["extra_options"]
    assert {"title": "Chaos", "key": "paystorm-chaos"} in args["extended_tabs"]
    assert 'id="paystorm-chaos-toggle"' in page

    status, added = _call(
        f"{ui.url}/paystorm/faults",
        "POST",
        {"kind": "latency", "params": {"ms": 20}, "duration_s": 60},
    )
    assert status == 201, added
    deadline = time.monotonic() + 5
    while [f["state"] for f in _gateway_faults(ui)] != ["active"]:  # it starts at once
        assert time.monotonic() < deadline, _gateway_faults(ui)
        time.sleep(0.05)
    status, listed = _call(f"{ui.url}/paystorm/faults")
    assert status == 200
    assert [(f["id"], f["state"]) for f in listed["faults"]] == [(added["id"], "active")]
    assert _active_on_gateway_metrics(ui, "latency")

    status, refused = _call(f"{ui.url}/paystorm/faults", "POST", {"kind": "latency"})
    assert status == 400
    assert refused["error"]["fields"][0]["field"] == "params.ms"
    status, refused = _call(
        f"{ui.url}/paystorm/faults",
        "POST",
        {"kind": "latency", "params": {"ms": 1}},
        headers={"Origin": "http://elsewhere.example"},
    )
    assert status == 403, refused
    assert _call(f"{ui.url}/paystorm/faults/nope", "DELETE")[0] == 404

    status, removed = _call(f"{ui.url}/paystorm/faults/{added['id']}", "DELETE")
    assert (status, removed["state"]) == (200, "expired")
    _call(f"{ui.url}/paystorm/faults", "POST", {"kind": "timeout", "params": {"ms": 10}})
    status, cleared = _call(f"{ui.url}/paystorm/faults", "DELETE")
    assert (status, cleared["removed"]) == (200, 1)
    assert _gateway_faults(ui) == []


def test_the_admin_token_stays_out_of_command_lines_and_pages(ui: Ui) -> None:
    token = ui.gateway_token()
    assert len(token) >= 24
    children = ui.children()
    assert len(children) == 2, children  # the gateway and Locust
    assert not any(token in argv for argv in children.values())
    for path in ("/", "/paystorm/chaos", "/paystorm/kinds", "/paystorm/faults", "/stats/requests"):
        with urllib.request.urlopen(f"{ui.url}{path}", timeout=10) as resp:
            assert token not in resp.read().decode(), path


def test_start_refuses_an_unknown_scenario_and_a_remote_host(ui: Ui) -> None:
    answer = _swarm(ui, scenario="no-such-scenario", host=ui.gateway)
    assert answer["success"] is False
    assert "no-such-scenario: no such scenario" in answer["message"]
    # Checked, never contacted: the address is only parsed.
    answer = _swarm(ui, scenario="steady", host="http://10.255.0.1:8080")
    assert answer["success"] is False
    assert "not a loopback address" in answer["message"]


def test_a_browser_picks_a_scenario_starts_it_and_adds_a_fault(ui: Ui, tmp_path: Path) -> None:
    require(CHROMIUM.exists(), "needs Debian's Chromium: apt-get install -y chromium")
    sync_api = require_module("playwright.sync_api", "needs the playwright package")
    shot = tmp_path / "chaos.png"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, timeout=30_000
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(ui.url)
            page.get_by_text("Custom parameters").click()
            select = page.locator("select[name=scenario]")
            assert select.locator("option").all_inner_texts() == catalogue()
            select.select_option(TIMELINE_SCENARIO)
            page.get_by_role("button", name="Start").click()

            # Load flows: the shape spawned the scenario's pool and payments are counted.
            page.get_by_role("tab", name="Statistics").wait_for()
            page.get_by_text("/v1/payments", exact=True).wait_for()
            assert "RUNNING" in page.locator("header").inner_text().upper()
            # Second 0 put the scenario's timeline on the gateway; the Chaos tab lists it.
            assert [f["kind"] for f in _gateway_faults(ui)] == ["risk_strict"]
            page.get_by_role("tab", name="Chaos").click()
            page.get_by_role("cell", name="risk_strict").wait_for()

            page.get_by_role("button", name="Chaos panel").click()
            panel = page.frame_locator("#paystorm-chaos-frame")
            panel.locator("#kind option").first.wait_for(state="attached")
            panel.locator("#kind").select_option("latency")
            panel.locator("#params").fill('{"ms": 5}')
            panel.locator("#target").fill('{"route": "account"}')
            panel.locator("#duration").fill("60")
            panel.locator("#add").click()
            panel.locator("tr.active td.kind", has_text="latency").wait_for()
            page.screenshot(path=str(shot))

            latency = [f for f in _gateway_faults(ui) if f["kind"] == "latency"]
            assert len(latency) == 1
            assert latency[0]["state"] == "active"
            assert latency[0]["target"]["route"] == "account"
            assert _active_on_gateway_metrics(ui, "latency")

            page.get_by_role("button", name="Stop").click()
            page.get_by_text("STOPPED", exact=False).first.wait_for()
            # The stopped run's timeline is taken off; the fault added by hand stays.
            deadline = time.monotonic() + 10
            while [f["kind"] for f in _gateway_faults(ui)] != ["latency"]:
                assert time.monotonic() < deadline, _gateway_faults(ui)
                time.sleep(0.1)  # test_stop removes it right after the users stop
            panel.locator("#clear").click()
            panel.locator("#message", has_text="cleared 1 fault").wait_for()
            assert _gateway_faults(ui) == []
        finally:
            browser.close()
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000


def test_ctrl_c_stops_the_ui_and_everything_it_started(ui: Ui) -> None:
    children = ui.children()
    assert len(children) == 2, children
    os.killpg(ui.proc.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
    assert ui.proc.wait(timeout=30) == 0
    for pid in children:
        assert not Path(f"/proc/{pid}").exists(), children[pid]
    port = int(ui.url.rsplit(":", 1)[1])
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # nothing serves the UI any more


def _paystorm_ui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paystorm", "ui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_setup_mistakes_are_one_line_and_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cases = {
            ("--web-port", str(port)): f"--web-port {port}: cannot listen",
            ("--target", "http://10.255.0.1:8080"): "not a loopback address",
            ("--scenario", "nope"): "invalid choice: 'nope'",
            ("--web-port", "70000"): "expected a port number",
        }
        for args, message in cases.items():
            proc = _paystorm_ui(*args)
            assert proc.returncode == 2, (args, proc.stderr)
            assert message in proc.stderr, (args, proc.stderr)
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
            assert proc.stdout == ""

"""End to end: `paystorm ui` as a user runs it — the gateway and Locust's web UI as real
subprocesses, driven over HTTP (the browser's part is in test_ui_browser.py)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faults import REGISTRY
from scenarios.loader import catalogue
from tests.paystorm.ui_support import Ui, paystorm_ui
from tests.paystorm.ui_support import call as _call
from tests.paystorm.ui_support import swarm as _swarm


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    with paystorm_ui("--out", str(tmp_path_factory.mktemp("ui-results"))) as ui:
        yield ui


def _template_args(ui: Ui) -> tuple[str, dict[str, Any]]:
    with urllib.request.urlopen(f"{ui.url}/", timeout=10) as resp:
        page = resp.read().decode()
    found = re.search(r"window\.templateArgs = (.*)\n", page)
    assert found, page[:500]
    return page, json.loads(found.group(1))


def _gateway_faults(ui: Ui) -> list[dict[str, Any]]:
    return ui.gateway_faults()


def _active_on_gateway_metrics(ui: Ui, kind: str) -> bool:
    with urllib.request.urlopen(f"{ui.gateway}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return bool(re.search(rf'paystorm_fault_active\{{kind="{kind}"\}} 1(\.0)?$', text, re.M))


def test_the_ui_offers_the_catalogue_and_proxies_the_chaos_api(ui: Ui) -> None:
    page, args = _template_args(ui)
    assert args["extra_options"]["scenario"]["choices"] == catalogue()
    assert args["extra_options"]["scenario"]["default_value"] == "steady"
    assert "results_dir" not in args["extra_options"]
    # paystorm's part of the page, ahead of React's root, served from the package.
    assert page.index('id="paystorm"') < page.index('id="root"')
    for asset in (
        "./paystorm/static/charts.js",
        "./paystorm/static/live.js",
        "./paystorm/static/live.css",
    ):
        assert asset in page
        with urllib.request.urlopen(f"{ui.url}/{asset[2:]}", timeout=10) as resp:
            assert resp.status == 200 and len(resp.read()) > 1000
    status, refused = _call(f"{ui.url}/paystorm/live?since=soon")
    assert (status, refused["error"]["code"]) == (400, "INVALID_REQUEST")
    assert refused["error"]["fields"][0]["field"] == "since"
    status, kinds = _call(f"{ui.url}/paystorm/kinds")
    assert status == 200
    assert {k["kind"] for k in kinds["kinds"]} == set(REGISTRY)
    latency = next(k for k in kinds["kinds"] if k["kind"] == "latency")
    assert latency["params"]["required"] == ["ms"]
    assert latency["example"]["params"]["ms"] > 0

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
    for path in (
        "/",
        "/paystorm/live",
        "/paystorm/scenarios",
        "/paystorm/kinds",
        "/paystorm/faults",
        "/stats/requests",
    ):
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
            ("--scenario", "nope"): "nope: no such scenario file or catalogue name",
            ("--processes", "0"): "--processes 0: expected 1 to 64",
            ("--web-port", "70000"): "expected a port number",
        }
        for args, message in cases.items():
            proc = _paystorm_ui(*args)
            assert proc.returncode == 2, (args, proc.stderr)
            assert message in proc.stderr, (args, proc.stderr)
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
            assert proc.stdout == ""

"""Debian's Prometheus, with monitoring/alerts.yml, scraping a gateway through a live channel
outage run by `paystorm run`: the breaker alert fires during the outage and resolves after it.

About 45 s, so it runs under `make monitoring-check` (PAYSTORM_LIVE_ALERTS=1), not in every
suite run; skipped, saying why, where Prometheus is not installed (on CI, failed instead)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract import runfolder
from contract.admin import TOKEN_ENV
from tests.monitoring.support import gateway
from tests.needs import require

RULES = Path(__file__).resolve().parents[2] / "monitoring" / "alerts.yml"
ALERT = "PaystormChannelBreakerOpen"
FOR_S = 10.0  # the rule's `for`
OUTAGE = {"start_in_s": 4, "duration_s": 15}
SCENARIO = {
    "name": "breaker-alert",
    "description": "bank_a down from second 4 to 19, failover off: its breaker opens.",
    "duration_s": 26,
    "load": {"model": "arrival-rate", "stages": [{"until_s": 26, "rate": 40}]},
    "client": {"timeout_s": 2},
    "population": {"accounts": 500, "merchants": 30},
    "faults": [
        {"kind": "channel_outage", "params": {"channel": "bank_a", "mode": "error"}, **OUTAGE}
    ],
}
TOKEN = "live-alerts-token-0123456789"

pytestmark = pytest.mark.skipif(
    os.environ.get("PAYSTORM_LIVE_ALERTS") != "1",
    reason="about 45 s: run by `make monitoring-check` (PAYSTORM_LIVE_ALERTS=1)",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[str]:
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump({"failover": False}))
    args = ("--accounts", "500", "--merchants", "30", "--config", str(config))
    with gateway(*args, "--admin-token", TOKEN) as url:
        yield url


@pytest.fixture
def prometheus(tmp_path: Path, target: str) -> Iterator[str]:
    binary = shutil.which("prometheus")
    require(binary is not None, "Prometheus not installed (apt-get install prometheus)")
    assert binary is not None
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": "paystorm-gateway",
                "static_configs": [{"targets": [target.split("//")[1]]}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    url = f"http://127.0.0.1:{_free_port()}"
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address={url[7:]}"],
        stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "Prometheus did not get ready"
            time.sleep(0.2)  # polling its readiness endpoint
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_the_breaker_alert_fires_in_the_outage_and_resolves_after(
    tmp_path: Path, target: str, prometheus: str
) -> None:
    scenario = tmp_path / "breaker-alert.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    seen: list[tuple[float, str, str]] = []  # (unix time, channel, state)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            now = time.time()
            try:
                alerts = _get(f"{prometheus}/api/v1/alerts")["data"]["alerts"]
            except (OSError, ValueError):
                alerts = []
            for a in alerts:
                if a["labels"]["alertname"] == ALERT:
                    seen.append((now, a["labels"]["channel"], a["state"]))
            seen.append((now, "-", "polled"))
            done.wait(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "paystorm", "run", str(scenario), "--target", target,
             "--out", str(tmp_path / "out")],
            env={**os.environ, TOKEN_ENV: TOKEN}, capture_output=True, text=True, timeout=180,
            check=False,
        )  # fmt: skip
        assert run.returncode in (0, 1), run.stdout + run.stderr
        (folder,) = (tmp_path / "out").iterdir()
        (window,) = json.loads((folder / runfolder.FAULTS).read_text())
        t0 = json.loads((folder / runfolder.CLOCK).read_text())["t0_unix"]
        start, end = t0 + window["started_at_s"], t0 + window["ended_at_s"]
        # The breaker closes at the first probe after the outage (open_s, 5 s), then the
        # alert resolves at Prometheus's next evaluation.
        deadline = time.time() + 30
        while time.time() < deadline:
            if any(t > end and ch == "-" for t, ch, _ in seen) and not _firing_after(seen, end + 8):
                break
            time.sleep(0.5)
    finally:
        done.set()
        watcher.join(timeout=10)
    firing = [t for t, ch, state in seen if ch == "bank_a" and state == "firing"]
    assert firing, seen[-20:]
    assert start + FOR_S - 1 <= firing[0] <= end, (firing[0] - start, end - start)
    assert not any(ch not in ("bank_a", "-") for _, ch, _ in seen)  # only the channel down
    polls_after = [t for t, ch, _ in seen if ch == "-" and t > end + 8]
    assert polls_after, "Prometheus was not watched after the outage"
    assert not _firing_after(seen, end + 8), "the alert did not resolve after the outage"
    last = max(t for t, ch, state in seen if ch == "bank_a" and state == "firing")
    print(
        f"{ALERT}: outage {end - start:.1f} s; firing {firing[0] - start:.1f} s after it "
        f"began, last seen firing {last - end:+.1f} s from its end"
    )


def _firing_after(seen: list[tuple[float, str, str]], after: float) -> bool:
    return any(t > after and state == "firing" for t, _, state in seen)

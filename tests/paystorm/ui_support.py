"""`paystorm ui` as a user runs it, for the UI's tests: started as a real subprocess in its own
process group, its address read from what it prints, stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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
UI_LINE = re.compile(r"Locust web UI on (http://127\.0\.0\.1:\d+) ")
GATEWAY_LINE = re.compile(r"gateway (http://127\.0\.0\.1:\d+)$", re.M)
READY_LINE = "Ctrl-C stops both"

# Short, with had-credit failures of a known cause inside a fault window, at a modest rate.
SCENARIO = {
    "name": "ui-live",
    "description": "Sixty payments a second for eight seconds; the gateway answers a fifth of "
    "them SYSTEM_BUSY from second 2 to second 5.",
    "duration_s": 8,
    "load": {"model": "arrival-rate", "stages": [{"until_s": 8, "rate": 60}]},
    "mix": {"shopper": 90, "refund": 10},
    "client": {"timeout_s": 2},
    "population": {"accounts": 500, "merchants": 30},
    "faults": [
        {
            "kind": "error",
            "params": {"code": "SYSTEM_BUSY", "rate": 0.2},
            "target": {"route": "pay"},
            "start_in_s": 2,
            "duration_s": 3,
        }
    ],
    "slo": {"success_rate": 0.99, "p99_ms": 1500},
}


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

    def gateway_faults(self) -> list[dict[str, Any]]:
        status, body = call(
            f"{self.gateway}/_chaos/faults",
            headers={"Authorization": f"Bearer {self.gateway_token()}"},
        )
        assert status == 200, body
        faults: list[dict[str, Any]] = body["faults"]
        return faults

    def wait_for_line(self, needle: str, timeout_s: float) -> str:
        """The first line `paystorm ui` prints from now on that holds `needle`."""
        deadline = time.monotonic() + timeout_s
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if needle in line:
                return line


def _read_lines(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


@contextmanager
def paystorm_ui(*args: str) -> Iterator[Ui]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "paystorm", "ui", "--web-port", "0", *args],
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
        while READY_LINE not in "".join(seen):
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


def call(
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


def swarm(ui: Ui, **form: str) -> dict[str, Any]:
    data = "&".join(f"{k}={v}" for k, v in form.items()).encode()
    with urllib.request.urlopen(f"{ui.url}/swarm", data=data, timeout=10) as resp:
        result: dict[str, Any] = json.load(resp)
    return result


def live(ui: Ui, since: int = 0) -> dict[str, Any]:
    status, body = call(f"{ui.url}/paystorm/live?since={since}")
    assert status == 200, body
    return dict(body)

"""The gevent transport (locustfiles/client/gevent_transport.py) on real sockets: answers read
whole, timeouts told from connection failures, the weak link's dropped connection, Locust's
stats told of every request but the warm-up, and one keep-alive connection reused with more
than 1024 descriptors open. Driven in a subprocess (tests/locustfiles/transport_probe.py):
gevent patches the process that imports it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SLOW_S = 3.0  # well past the probe's 0.5 s deadline


class Seen:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, int, str | None]] = []  # path, method, port, key


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    seen: Seen
    stop: threading.Event

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with self.seen.lock:
            key = self.headers.get("Idempotency-Key")
            self.seen.requests.append((self.path, self.command, self.client_address[1], key))

    def do_GET(self) -> None:
        self._record()
        self._answer(200, b'{"ok": true}')

    def do_POST(self) -> None:
        self._record()
        if self.path == "/slow":
            self.stop.wait(SLOW_S)
        if self.path == "/reset":
            self.close_connection = True  # no answer at all
            return
        self._answer(200, b'{"payment_id": "pay_1"}', Retry_After="2")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the answers the probe gave up on meet a closed socket: expected


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Seen]]:
    seen, stop = Seen(), threading.Event()
    handler = type("H", (Handler,), {"seen": seen, "stop": stop})
    httpd = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def probe(server: tuple[str, Seen]) -> tuple[dict[str, Any], Seen]:
    url, seen = server
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.locustfiles.transport_probe",
            url,
            f"http://127.0.0.1:{_closed_port()}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    time.sleep(0.05)  # the server's threads record the last request
    return json.loads(done.stdout), seen


def test_an_answer_is_read_whole_with_its_retry_after(probe: tuple[dict[str, Any], Seen]) -> None:
    result, _ = probe
    ok = result["answers"]["ok0"]
    assert (ok["status"], ok["body"], ok["retry_after"], ok["failure"]) == (
        200,
        '{"payment_id": "pay_1"}',
        "2",
        None,
    )


def test_one_keep_alive_connection_serves_the_warm_up_and_the_requests_past_fd_1024(
    probe: tuple[dict[str, Any], Seen],
) -> None:
    result, seen = probe
    fds = result["sockets_for_warm_up_and_three_requests"]
    assert len(fds) == 1 and fds[0] > 1024
    ports = {port for path, _, port, _ in seen.requests if path in ("/healthz", "/ok")}
    assert len(ports) == 1


def test_a_timeout_and_a_lost_connection_are_told_apart(
    probe: tuple[dict[str, Any], Seen],
) -> None:
    answers = probe[0]["answers"]
    assert (answers["slow"]["status"], answers["slow"]["failure"]) == (0, "timeout")
    assert (answers["reset"]["status"], answers["reset"]["failure"]) == (0, "connection")
    assert (answers["refused"]["status"], answers["refused"]["failure"]) == (0, "connection")
    assert answers["refused"]["error"] == "ConnectionRefusedError"


def test_a_dropped_request_reached_the_server_but_its_answer_did_not(
    probe: tuple[dict[str, Any], Seen],
) -> None:
    result, seen = probe
    dropped = result["answers"]["dropped"]
    assert (dropped["status"], dropped["failure"]) == (0, "connection")
    assert ("/drop", "POST", "key/drop") in {(p, m, k) for p, m, _, k in seen.requests}


def test_every_request_but_the_warm_up_is_reported(probe: tuple[dict[str, Any], Seen]) -> None:
    assert probe[0]["reported"] == [
        "POST /ok 200 None",
        "POST /ok 200 None",
        "POST /ok 200 None",
        "POST /slow 0 timeout",
        "POST /reset 0 connection",
        "POST /drop 0 connection",
        "POST /ok 0 connection",
    ]
    assert ("/healthz", "GET") in {(p, m) for p, m, _, _ in probe[1].requests}

"""Servers the proxy and adapter tests start as processes: localstripe (third-party, in the
dev extras) and `paystorm proxy`, each on a free loopback port, waited on at /healthz and
killed at the end; and a plain HTTP transport for the client seam (no gevent here)."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from contract.admin import AdminClient
from locustfiles.client.transport import CONNECTION, TIMEOUT, Answer, Request
from tests.needs import require_module

ANNOUNCED = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
TOKEN = "t"


@contextmanager
def serving(*argv: str) -> Iterator[str]:
    """`python -m argv…` until it announces its URL and answers /healthz; its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        url = None
        while url is None:
            line = proc.stdout.readline()
            assert line, f"{argv[0]} exited before serving"
            m = ANNOUNCED.search(line)
            url = m.group(1) if m else None
        AdminClient(url).wait_healthy(deadline)
        yield url
    finally:
        proc.kill()
        proc.communicate()  # reaps it and closes its pipe


@contextmanager
def localstripe() -> Iterator[str]:
    require_module("localstripe", "localstripe is not installed (pip install -e '.[dev]')")
    with serving("fault_proxy.localstripe", "--port", "0") as url:
        yield url


@contextmanager
def proxy(upstream: str) -> Iterator[str]:
    with serving(
        "fault_proxy", "--upstream", upstream, "--port", "0", "--admin-token", TOKEN
    ) as url:
        yield url


class HttpTransport:
    """The transport interface over http.client: one connection per request."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self._host, self._port = parts.hostname or "", parts.port or 80
        self.sent: list[Request] = []

    def send(self, request: Request) -> Answer:
        self.sent.append(request)
        conn = http.client.HTTPConnection(self._host, self._port, timeout=request.deadline_s)
        started = time.monotonic()
        try:
            conn.request(request.method, request.path, request.body, dict(request.headers))
            resp = conn.getresponse()
            body = resp.read()
        except TimeoutError as exc:
            return Answer(0, failure=TIMEOUT, error=str(exc))
        except (OSError, http.client.HTTPException) as exc:
            return Answer(0, failure=CONNECTION, error=repr(exc))
        finally:
            conn.close()
        elapsed = (time.monotonic() - started) * 1000
        return Answer(resp.status, body, resp.getheader("Retry-After"), elapsed_ms=elapsed)

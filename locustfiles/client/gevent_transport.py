"""The transport Locust users send through: geventhttpclient's HTTPClient, used directly.

Locust's FastHttpSession costs about as much CPU per request as the request itself (cookie
jar, URL building, header copies, its response wrapper); under a promo-spike overload that
CPU is what makes the single generator process late. Here a request is one HTTPClient call,
and `on_request` lets the Locust side put it in Locust's stats.

One HTTPClient per deadline (connect and read timeouts are the pool's, fixed when a socket is
made), each with one keep-alive connection: a user sends one request at a time. The pooled
sockets' idle check is `locustfiles.connections`' (installed here too), so a connection is
reused whatever its descriptor number.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gevent
from geventhttpclient import HTTPClient
from geventhttpclient.response import HTTPParseError

from locustfiles import connections
from locustfiles.client.transport import CONNECTION, TIMEOUT, Answer, Request, timed_out
from locustfiles.network import send_and_drop

connections.install()

# What a request can fail with short of an answer: socket errors (timeouts among them),
# geventhttpclient's parse errors (a connection closed mid-answer), gevent's own timeout.
FAILURES = (OSError, HTTPParseError, gevent.Timeout)
TIMEOUTS = (TimeoutError, gevent.Timeout)
DROPPED = "weak network: connection dropped"

OnRequest = Callable[[Request, Answer], object]


class GeventTransport:
    """One user's connections to `base_url`."""

    def __init__(self, base_url: str, on_request: OnRequest | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._on_request = on_request
        self._clients: dict[float, HTTPClient] = {}

    def _client(self, deadline_s: float) -> HTTPClient:
        client = self._clients.get(deadline_s)
        if client is None:
            client = self._clients[deadline_s] = HTTPClient.from_url(
                self.base_url,
                concurrency=1,
                network_timeout=deadline_s,
                connection_timeout=deadline_s,
                insecure=True,  # as Locust's FastHttpUser: a load test does not verify TLS
            )
        return client

    def send(self, request: Request) -> Answer:
        began = time.perf_counter()
        try:
            response = self._client(request.deadline_s).request(
                request.method,
                request.path,
                body=request.body,
                headers=request.headers,
            )
            try:
                # Read to the end: a complete answer gives the socket back to the pool.
                content = response.read()
            finally:
                response.release()
            retry_after = response.get("retry-after")
            answer = Answer(
                response.status_code,
                content,
                None if retry_after is None else str(retry_after),
                elapsed_ms=(time.perf_counter() - began) * 1000,
            )
        except FAILURES as exc:
            elapsed_ms = (time.perf_counter() - began) * 1000
            late = timed_out(exc, elapsed_ms, request.deadline_s, TIMEOUTS)
            failure = TIMEOUT if late else CONNECTION
            answer = Answer(0, failure=failure, elapsed_ms=elapsed_ms, error=type(exc).__name__)
        if self._on_request is not None:
            self._on_request(request, answer)
        return answer

    def send_and_drop(self, request: Request) -> Answer:
        if not self.base_url.startswith("http:"):
            return self.send(request)  # a TLS connection is not dropped by hand
        began = time.perf_counter()
        error = DROPPED
        try:
            send_and_drop(
                self.base_url,
                request.method,
                request.path,
                request.headers,
                request.body,
                request.deadline_s,
            )
        except OSError as exc:
            error = type(exc).__name__
        elapsed_ms = (time.perf_counter() - began) * 1000
        answer = Answer(0, failure=CONNECTION, elapsed_ms=elapsed_ms, error=error)
        if self._on_request is not None:
            self._on_request(request, answer)
        return answer

    def connect(self, path: str, deadline_s: float) -> None:
        """Open the keep-alive connection for `deadline_s` with a GET of `path`, outside the
        stats: a warm-up is not a request of the run. Raises what the request raised."""
        response = self._client(deadline_s).get(path)
        try:
            response.read()
        finally:
            response.release()

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

"""The transport interface: one request in, one answer out, nothing about the API's meaning.

It is the extension point (a real socket transport under Locust, a weak-link wrapper, a
scripted fake in tests) and the test seam: everything above it — classification, retries,
resolving — is pure and sees only `Request` and `Answer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

Failure = Literal["timeout", "connection"]
TIMEOUT: Failure = "timeout"
CONNECTION: Failure = "connection"

NEAR_DEADLINE = 0.95
"""A failure this late in the deadline is taken as a timeout: a socket library may hide the
timeout behind another error (geventhttpclient wraps it, and drops the original)."""


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    name: str
    """How Locust's stats group it: by route, never by id (`/v1/payments/[id]`)."""
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    deadline_s: float = 5.0
    """The person's patience for this request: connect and every read."""


@dataclass(slots=True)
class Answer:
    status: int
    """The HTTP status; 0 when no HTTP answer came."""
    body: bytes = b""
    retry_after: str | None = None
    """The Retry-After header as sent, if any."""
    failure: Failure | None = None
    """Why no HTTP answer came: the deadline passed, or the connection failed."""
    elapsed_ms: float = 0.0
    error: str = ""
    """What went wrong when no answer came, for the failure text of Locust's stats."""


class Transport(Protocol):
    def send(self, request: Request) -> Answer:
        """Send one request and wait for its answer, within `request.deadline_s`; never
        raises for a network failure (that is an Answer with `failure`)."""
        ...


class DroppingTransport(Transport, Protocol):
    def send_and_drop(self, request: Request) -> Answer:
        """Send one request on a connection of its own and drop it as the answer starts: the
        gateway did the work, the person never hears of it. A transport that cannot drop a
        connection (TLS) sends the request normally."""
        ...


def timed_out(
    error: BaseException | None,
    elapsed_ms: float,
    deadline_s: float,
    timeout_types: tuple[type[BaseException], ...] = (TimeoutError,),
) -> bool:
    """Whether a request that got no answer ran out of time: a timeout anywhere in the
    exception's chain (the socket library's own timeout type among `timeout_types`), or a
    failure after nearly the whole deadline."""
    while error is not None:
        if isinstance(error, timeout_types):
            return True
        error = error.__cause__ or error.__context__
    return elapsed_ms >= NEAR_DEADLINE * deadline_s * 1000

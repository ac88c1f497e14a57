"""The one client of the gateway's admin and chaos API: health, faults, events, audit, export.

The runner, the fault timeline, `paystorm chaos`, the web UI's chaos panel and the tests all
call the gateway through it. Plain `http.client`, so it works the same in a gevent-patched
Locust process and in the runner. A refusal is one line with the gateway's own words:
`POST /_chaos/faults: HTTP 400 INVALID_REQUEST: params.delay_ms: must be at most 60000`.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from contract import routes
from contract.routes import Route

# The environment variable every paystorm process reads the admin token from.
TOKEN_ENV = "PAYSTORM_ADMIN_TOKEN"
_MAX_SHOWN = 300  # characters of an answer that is not the gateway's error body


class _NotSent(Exception):
    """The body's function decided there is nothing to send."""


class AdminError(Exception):
    """A call the gateway refused or could not be reached for; the message is one line."""

    def __init__(
        self, message: str, status: int | None = None, code: str | None = None, body: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status  # None: no answer at all
        self.code = code  # the catalogue's code, when the gateway sent one
        self.body = body  # the gateway's error body, decoded, when it sent JSON


def refusal(status: int, body: bytes) -> AdminError:
    """The gateway's error answer as one line (with its code and body), whatever it holds."""
    try:
        decoded = json.loads(body)
        error = decoded["error"]
        code = str(error["code"])
    except (ValueError, KeyError, TypeError):
        text = body.decode("utf-8", "replace").strip().replace("\n", " ")[:_MAX_SHOWN]
        return AdminError(f"HTTP {status} {text}" if text else f"HTTP {status}", status)
    fields = error.get("fields") or []
    detail = "; ".join(f"{f.get('field')}: {f.get('reason')}" for f in fields if f)
    line = f"HTTP {status} {code}: {detail or error.get('message', '')}"
    return AdminError(line, status, code, decoded)


@dataclass(frozen=True, slots=True)
class AdminClient:
    base: str  # http://HOST:PORT, already checked against the loopback rule
    token: str = ""
    timeout_s: float = 10.0

    def _connect(self, timeout_s: float | None) -> http.client.HTTPConnection:
        url = urlsplit(self.base)
        kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        conn = kind(url.hostname or "", url.port, timeout=timeout_s or self.timeout_s)
        conn.connect()
        return conn

    def _headers(self, body: bytes | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return headers

    @contextmanager
    def _open(
        self,
        route: Route,
        *,
        params: dict[str, str] | None = None,
        query: str = "",
        body: Callable[[], Any] | Any = None,
        timeout_s: float | None = None,
    ) -> Iterator[http.client.HTTPResponse]:
        """The answer of one call, open for reading; refusals raise AdminError.

        `body` may be a function: it is called once connected, so a fault's start can be
        timed from when the gateway gets it."""
        path = route.path.format(**(params or {})) + query
        what = f"{route.method} {path}"
        try:
            conn = self._connect(timeout_s)
        except OSError as exc:
            raise AdminError(f"{what}: cannot reach the gateway at {self.base} ({exc})") from None
        try:
            data = body() if callable(body) else body
            payload = None if data is None else json.dumps(data).encode()
            prefix = urlsplit(self.base).path.rstrip("/")
            conn.request(route.method, prefix + path, body=payload, headers=self._headers(payload))
            resp = conn.getresponse()
            if resp.status >= 400:
                refused = refusal(resp.status, resp.read())
                raise AdminError(f"{what}: {refused}", refused.status, refused.code, refused.body)
            yield resp
        except (OSError, http.client.HTTPException) as exc:
            raise AdminError(f"{what}: the gateway at {self.base} failed ({exc})") from None
        finally:
            conn.close()

    def call(
        self,
        route: Route,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        timeout_s: float | None = None,
    ) -> Any:
        """One call's JSON answer."""
        return self.exchange(route, params=params, body=body, timeout_s=timeout_s)[1]

    def exchange(
        self,
        route: Route,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        timeout_s: float | None = None,
    ) -> tuple[int, Any]:
        """One call's status and JSON answer (a refusal raises AdminError)."""
        with self._open(route, params=params, body=body, timeout_s=timeout_s) as resp:
            status, raw = resp.status, resp.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            raise AdminError(
                f"{route.method} {route.path}: the answer is not JSON: {raw[:_MAX_SHOWN]!r}"
            ) from None

    # --- health ---------------------------------------------------------------------------

    def health(self, timeout_s: float = 2.0) -> dict[str, Any]:
        answer = self.call(routes.HEALTHZ, timeout_s=timeout_s)
        if not isinstance(answer, dict):
            raise AdminError(f"GET {routes.HEALTHZ.path}: expected an object, got {answer!r}")
        return answer

    def wait_healthy(self, deadline: float, alive: Callable[[], bool] = lambda: True) -> None:
        """Until /healthz answers 200 or `deadline` (time.monotonic()) passes."""
        last = "no answer yet"
        while time.monotonic() < deadline and alive():
            try:
                self.health()
                return
            except AdminError as exc:
                last = str(exc)
            time.sleep(0.05)
        raise AdminError(f"{self.base}{routes.HEALTHZ.path} did not answer 200 in time ({last})")

    # --- faults ---------------------------------------------------------------------------

    def add_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        answer = self.call(routes.ADD_FAULT, body=spec)
        if not isinstance(answer, dict) or "id" not in answer:
            raise AdminError(f"POST {routes.ADD_FAULT.path}: the answer has no fault id")
        return answer

    def add_fault_timed(self, make_spec: Callable[[], dict[str, Any] | None]) -> str | None:
        """Post the spec `make_spec` returns once connected; None (nothing sent) when it
        returns None."""

        def spec() -> dict[str, Any]:
            made = make_spec()
            if made is None:
                raise _NotSent
            return made

        try:
            answer = self.call(routes.ADD_FAULT, body=spec)
        except _NotSent:
            return None
        if not isinstance(answer, dict) or "id" not in answer:
            raise AdminError(f"POST {routes.ADD_FAULT.path}: the answer has no fault id")
        return str(answer["id"])

    def faults(self) -> list[dict[str, Any]]:
        answer = self.call(routes.FAULTS)
        return list(answer.get("faults", [])) if isinstance(answer, dict) else []

    def clear_faults(self, fault_id: str | None = None, timeout_s: float | None = None) -> Any:
        if fault_id is None:
            return self.call(routes.CLEAR_FAULTS, timeout_s=timeout_s)
        return self.call(routes.DELETE_FAULT, params={"fault_id": fault_id}, timeout_s=timeout_s)

    def events(self) -> list[dict[str, Any]]:
        answer = self.call(routes.EVENTS)
        return list(answer.get("events", [])) if isinstance(answer, dict) else []

    # --- the ledger -----------------------------------------------------------------------

    def audit(self, timeout_s: float = 120.0) -> dict[str, Any]:
        answer = self.call(routes.AUDIT, timeout_s=timeout_s)
        if not isinstance(answer, dict):
            raise AdminError(f"GET {routes.AUDIT.path}: expected an object, got {answer!r}")
        return answer

    @contextmanager
    def export(self, key_prefix: str, timeout_s: float = 300.0) -> Iterator[Iterator[bytes]]:
        """The ledger's payments whose key starts with `key_prefix`, one JSON line each."""
        query = f"?key_prefix={quote(key_prefix)}"
        with self._open(routes.EXPORT, query=query, timeout_s=timeout_s) as resp:
            yield iter(resp.readline, b"")

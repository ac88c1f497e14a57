"""The web UI's way to the gateway's chaos API: the admin token stays in this process, the
browser only ever talks to Locust (no Locust or Flask import here)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from contract import routes
from contract.admin import TOKEN_ENV, AdminClient, AdminError
from contract.routes import Route
from contract.target import TargetError, check_target
from faults import every_kind

# A valid fault of each kind, from the kind's own module, to start the panel's form from.
KIND_EXAMPLES: dict[str, dict[str, Any]] = {
    k.name: dict(k.example.get("params", {})) for k in every_kind()
}


@dataclass(frozen=True)
class Answer:
    """What the panel's route sends back: the gateway's own status and JSON body, or ours."""

    status: int
    body: Any


def problem(status: int, message: str) -> Answer:
    """An error the proxy itself found, shaped like the gateway's error bodies."""
    return Answer(status, {"error": {"code": "CHAOS_PANEL", "message": message}})


class ChaosProxy:
    def __init__(self, *, allow_remote: bool = False, timeout_s: float = 5.0) -> None:
        self._allow_remote = allow_remote
        self._timeout_s = timeout_s

    def call(
        self,
        host: str,
        route: Route,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Answer:
        """One chaos API call on the gateway at `host` (the run's target)."""
        token = os.environ.get(TOKEN_ENV, "")
        if not token:
            return problem(503, f"no admin token: ${TOKEN_ENV} is not set for Locust")
        try:
            base = check_target(host, allow_remote=self._allow_remote)
        except TargetError as exc:
            return problem(400, str(exc).replace("--target", "host"))
        admin = AdminClient(base, token, timeout_s=timeout_s or self._timeout_s)
        try:
            return Answer(*admin.exchange(route, params=params, body=body))
        except AdminError as exc:
            if exc.status is None:
                return problem(502, str(exc))
            # The gateway's own error body, for the panel to show field by field.
            return Answer(
                exc.status, exc.body if exc.body is not None else problem(0, str(exc)).body
            )

    def faults(self, host: str, *, timeout_s: float | None = None) -> list[dict[str, Any]]:
        """The gateway's faults; empty when it cannot say."""
        answer = self.call(host, routes.FAULTS, timeout_s=timeout_s)
        if answer.status != 200 or not isinstance(answer.body, dict):
            return []
        faults = answer.body.get("faults")
        return faults if isinstance(faults, list) else []


def fault_row(fault: dict[str, Any]) -> dict[str, str]:
    """One fault as a row of the web UI's Chaos tab (every cell a short string)."""
    target = {
        k: v
        for k, v in (fault.get("target") or {}).items()
        if not (k == "probability" and v == 1.0) and not (k == "min_inflight" and v == 0)
    }
    return {
        "name": str(fault.get("id", "")),  # Locust's tables key their rows by `name`
        "id": str(fault.get("id", "")),
        "kind": str(fault.get("kind", "")),
        "params": json.dumps(fault.get("params") or {}, sort_keys=True),
        "target": json.dumps(target, sort_keys=True) if target else "all requests",
        "state": str(fault.get("state", "")),
        "window": _window(fault),
        "started": str(fault.get("started_at") or "-"),
        "ended": str(fault.get("ended_at") or "-"),
    }


def _window(fault: dict[str, Any]) -> str:
    start = fault.get("start_in_s") or 0
    duration = fault.get("duration_s")
    lasting = "until removed" if duration is None else f"for {duration:g} s"
    return f"+{start:g} s, {lasting}"

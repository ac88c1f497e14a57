"""The web UI's way to the gateway's chaos API: the admin token stays in this process, the
browser only ever talks to Locust (no Locust or Flask import here)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from contract import routes
from contract.admin import TOKEN_ENV, AdminClient, AdminError
from contract.routes import Route
from contract.target import TargetError, check_target
from faults import every_kind
from faults.schema import kind_schemas


def kind_forms() -> dict[str, Any]:
    """What the live view builds its add-a-fault form from, kind by kind: the kind's own
    description, its params' JSON Schema and its example fault; and the target's schema. A
    kind registered later appears with no change here."""
    schemas = kind_schemas(ref_template="{name}")
    docs = {k.name: (k.__doc__ or "").strip() for k in every_kind()}
    return {
        "kinds": [
            {
                "kind": name,
                "doc": docs.get(name, ""),
                "params": schemas.components[str(ref["$ref"])],
                "example": schemas.examples[name],
            }
            for name, ref in schemas.params.items()
        ],
        "target": schemas.components[str(schemas.target["$ref"])],
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

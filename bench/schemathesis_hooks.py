"""schemathesis hooks for fuzzing the gateway (loaded by `schemathesis run` through the config
bench/schemathesis_fuzz.py writes).

A fault that fits the document is a real one: active, it would shape the answers to every
request after it (an injected 400 to valid data, a reset connection, a 10-minute stall), and
the run would test the faults instead of the document. So every valid fault the run adds is
scheduled a week out, the furthest a spec allows: it is created, listed and removed by id as
any other, and never acts. An invalid one keeps what made it invalid."""

from __future__ import annotations

from typing import Any

import requests
import schemathesis

from contract import routes
from faults.spec import MAX_DURATION_S

ADD_FAULT = f"{routes.ADD_FAULT.method} {routes.ADD_FAULT.path}"


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    meta = case.meta
    valid = meta is None or meta.generation.mode.is_positive
    if case.operation.label == ADD_FAULT and valid and isinstance(case.body, dict):
        case.body = {**case.body, "start_in_s": MAX_DURATION_S}


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """A fault the document calls invalid and the gateway took anyway is a failure the run
    reports; removed at once, it does not also break every request after it."""
    meta = case.meta
    invalid = meta is not None and not meta.generation.mode.is_positive
    if case.operation.label == ADD_FAULT and invalid and response.status_code == 201:
        fault_id = response.json()["id"]
        url = response.request.url.rsplit("/_chaos/faults", 1)[0]
        headers = {"Authorization": (case.headers or {}).get("Authorization", "")}
        requests.delete(f"{url}/_chaos/faults/{fault_id}", headers=headers, timeout=30)

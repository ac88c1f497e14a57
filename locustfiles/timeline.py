"""The scenario's fault timeline, put on the gateway when the load begins (second 0), so the
faults and the load share one clock (no Locust import here)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

from mock_gateway.config import TOKEN_ENV
from scenarios.model import FaultSpec, Scenario

__all__ = ["TOKEN_ENV", "TimelineError", "fault_body", "remove_faults", "schedule_faults"]


class TimelineError(RuntimeError):
    """A fault the gateway refused, or a gateway that could not be reached."""


def fault_body(fault: FaultSpec, speed: float, late_s: float) -> dict[str, Any]:
    """The chaos API body for one fault: scenario time compressed by `speed`, minus how late
    (in wall seconds since second 0) it is being posted."""
    body: dict[str, Any] = {
        "kind": fault.kind,
        "params": fault.params,
        "target": fault.target,
        "start_in_s": max(0.0, fault.start_in_s / speed - late_s),
        "seed": fault.seed,
    }
    if fault.duration_s is not None:
        body["duration_s"] = fault.duration_s / speed
    return body


def schedule_faults(host: str, scenario: Scenario, t0_unix: float) -> list[str]:
    """Post every fault of the scenario; returns the ids the gateway gave them."""
    if not scenario.faults:
        return []
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise TimelineError(f"the scenario has faults but ${TOKEN_ENV} is not set")
    ids = []
    for fault in scenario.faults:
        body = fault_body(fault, scenario.speed, time.time() - t0_unix)
        request = urllib.request.Request(
            f"{host.rstrip('/')}/_chaos/faults",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                ids.append(str(json.load(resp)["id"]))
        except urllib.error.HTTPError as exc:
            raise TimelineError(
                f"the gateway refused fault {fault.kind}: HTTP {exc.code} {exc.read()[:300]!r}"
            ) from None
        except OSError as exc:
            raise TimelineError(f"could not reach the gateway's chaos API: {exc}") from None
    return ids


def remove_faults(host: str, fault_ids: list[str]) -> None:
    """Take a stopped run's faults off the gateway; one already gone or unreachable is skipped."""
    token = os.environ.get(TOKEN_ENV, "")
    for fault_id in fault_ids:
        request = urllib.request.Request(
            f"{host.rstrip('/')}/_chaos/faults/{fault_id}",
            method="DELETE",
            headers={"Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5):
                pass
        except OSError:
            continue  # 404 (removed from the chaos panel already) is an OSError too

"""The scenario's fault timeline, put on the gateway when the load begins (second 0), so the
faults and the load share one clock (no Locust import here)."""

from __future__ import annotations

import os
import time
from functools import partial
from typing import Any

from contract.admin import TOKEN_ENV, AdminClient, AdminError
from faults import FaultSpec
from scenarios.loader import fault_dict
from scenarios.model import Scenario

__all__ = [
    "TimelineError",
    "fault_body",
    "fault_window",
    "remove_faults",
    "schedule_faults",
]


MIN_DURATION_S = 0.001
"""The shortest duration the chaos API takes."""


class TimelineError(RuntimeError):
    """A fault the gateway refused, or a gateway that could not be reached."""


def fault_window(
    start_in_s: float, duration_s: float | None, speed: float, late_s: float
) -> tuple[float, float | None] | None:
    """When a fault starts and how long it lasts, counted from the moment it is posted
    `late_s` wall seconds after second 0: its window on the run's clock is scenario time
    compressed by `speed` — start/speed to (start + duration)/speed — whenever it is posted.
    One whose start is already past starts at once and ends on time (it is shorter by what it
    missed); None when its whole window is already past. (A duration is never below the
    chaos API's `MIN_DURATION_S`.)"""
    start_s = start_in_s / speed - late_s
    if duration_s is None:
        return max(0.0, start_s), None
    end_s = (start_in_s + duration_s) / speed - late_s
    if end_s <= 0:
        return None
    start_s = max(0.0, start_s)
    return start_s, max(end_s - start_s, MIN_DURATION_S)


def fault_body(fault: FaultSpec[Any], speed: float, late_s: float) -> dict[str, Any] | None:
    """The chaos API body for one fault posted `late_s` wall seconds after second 0 (None:
    its window is already over, so there is nothing to apply)."""
    window = fault_window(fault.start_in_s, fault.duration_s, speed, late_s)
    if window is None:
        return None
    start_in_s, duration_s = window
    body = fault_dict(fault) | {"start_in_s": start_in_s, "duration_s": duration_s}
    if duration_s is None:
        del body["duration_s"]  # until removed
    return body


def schedule_faults(host: str, scenario: Scenario, t0_unix: float) -> list[str]:
    """Post every fault of the scenario; returns the ids the gateway gave them."""
    if not scenario.faults:
        return []
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise TimelineError(f"the scenario has faults but ${TOKEN_ENV} is not set")
    admin = AdminClient(host, token)
    ids = []
    for fault in scenario.faults:
        try:
            # Timed from the moment the gateway gets it: under gevent, waiting to connect lets
            # the rest of the process run (the first people of the run), and the gateway
            # counts `start_in_s` from when the request reaches it.
            fault_id = admin.add_fault_timed(partial(_body_now, fault, scenario.speed, t0_unix))
        except AdminError as exc:
            raise TimelineError(f"fault {fault.kind}: {exc}") from None
        if fault_id is not None:
            ids.append(fault_id)
    return ids


def _body_now(fault: FaultSpec[Any], speed: float, t0_unix: float) -> dict[str, Any] | None:
    return fault_body(fault, speed, time.time() - t0_unix)


def remove_faults(host: str, fault_ids: list[str]) -> None:
    """Take a stopped run's faults off the gateway; one already gone or unreachable is skipped."""
    admin = AdminClient(host, os.environ.get(TOKEN_ENV, ""), timeout_s=5)
    for fault_id in fault_ids:
        try:
            admin.clear_faults(fault_id)
        except AdminError:
            continue  # removed from the chaos panel already, or the gateway is gone

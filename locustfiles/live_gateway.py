"""The gateway as the live view shows it: its internals from /metrics (queue, in flight,
shedding, breakers) and its faults with their windows on the run's clock (no Locust or Flask
import here).

Read only while someone watches: each look at the view asks the gateway at most once a second,
so a run nobody watches pays nothing for it."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

from contract import routes
from contract.gauges import parse_sample
from locustfiles.chaos_proxy import ChaosProxy

REFRESH_S = 0.9  # a view polled every second sees a fresh sample each time
TIMEOUT_S = 2.5  # an overloaded gateway (or Locust) answers late; a stalled one must not hang
KEPT_SAMPLES = 3600  # an hour of seconds: the chart's history, bounded
BREAKER_PREFIX = "breaker_"


class GatewayWatch:
    """The latest look at the gateway, and one sample a second on the current run's clock."""

    def __init__(self, proxy: ChaosProxy) -> None:
        self._proxy = proxy
        self._checked = 0.0
        self._t0: float | None = None
        self.samples: list[dict[str, Any]] = []  # {time, inflight, queued, shed_per_s, breakers}
        self.faults: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.error: str | None = None
        self._last_shed: tuple[float, float] | None = None  # (unix time, shed_total)
        self._windows_t0: float | None = None  # the run the events were last read for

    def refresh(self, host: str, t0_unix: float | None, *, sample: bool = True) -> None:
        """Look at the gateway if the last look is older than REFRESH_S; `sample`: keep what
        /metrics says as the run's second (not once its load has stopped)."""
        now = time.time()
        if t0_unix != self._t0:
            self._t0, self.samples, self._last_shed = t0_unix, [], None  # a new run
        if now - self._checked < REFRESH_S:
            return
        self._checked = now
        self.error = None
        try:
            with urllib.request.urlopen(routes.METRICS.url(host), timeout=TIMEOUT_S) as resp:
                values = parse_sample(resp.read().decode("utf-8"))
        except (OSError, ValueError) as exc:
            self.error = f"the gateway's /metrics did not answer: {exc}"
            values = None
        answer = self._proxy.call(host, routes.FAULTS, timeout_s=TIMEOUT_S)
        if answer.status == 200 and isinstance(answer.body, dict):
            faults = list(answer.body.get("faults") or [])
            changed = _states(faults) != _states(self.faults)
            self.faults = faults
            if changed or t0_unix != self._windows_t0:
                # A window opens or closes only when a fault's state does.
                answer = self._proxy.call(host, routes.EVENTS, timeout_s=TIMEOUT_S)
                if answer.status == 200 and isinstance(answer.body, dict):
                    self.events = list(answer.body.get("events") or [])
                    self._windows_t0 = t0_unix
        if values is not None and t0_unix is not None and sample:
            self._keep(now, t0_unix, values)

    def _keep(self, now: float, t0_unix: float, values: dict[str, float]) -> None:
        shed_per_s = 0.0
        if self._last_shed is not None and now > self._last_shed[0]:
            shed_per_s = max(0.0, values["shed_total"] - self._last_shed[1]) / (
                now - self._last_shed[0]
            )
        self._last_shed = (now, values["shed_total"])
        second = round(now - t0_unix)
        if second < 0 or (self.samples and self.samples[-1]["time"] >= second):
            return
        self.samples.append(
            {
                "time": second,
                "inflight": values["inflight"],
                "queued": values["queued"],
                "shed_per_s": round(shed_per_s, 2),
                "breakers": {
                    k.removeprefix(BREAKER_PREFIX): int(v)
                    for k, v in values.items()
                    if k.startswith(BREAKER_PREFIX)
                },
            }
        )
        del self.samples[:-KEPT_SAMPLES]

    def windows(self, t0_unix: float | None) -> list[dict[str, Any]]:
        """Every fault window the gateway has opened, removed faults' too, on the run's clock
        (`end_s` None while it lasts); none before second 0."""
        if t0_unix is None:
            return []
        return [
            {
                "id": e.get("id"),
                "kind": e.get("kind"),
                "start_s": round(e["started_unix"] - t0_unix, 3),
                "end_s": None
                if e.get("ended_unix") is None
                else round(e["ended_unix"] - t0_unix, 3),
            }
            for e in self.events
            if e.get("started_unix") is not None
        ]

    def view(self, since: int, t0_unix: float | None) -> dict[str, Any]:
        return {
            "samples": [s for s in self.samples if s["time"] >= since],
            "latest": self.samples[-1] if self.samples else None,
            "faults": self.faults,
            "windows": self.windows(t0_unix),
            "error": self.error,
        }


def _states(faults: list[dict[str, Any]]) -> set[tuple[Any, Any]]:
    return {(f.get("id"), f.get("state")) for f in faults}

"""The gateway's routes: one table the app, fault targeting, the OpenAPI document and every
client read.

A payment route has a short name (`pay`, `query`, …) that fault targets, metrics and Locust's
request names use; the admin and chaos routes need the bearer token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    method: str
    path: str  # aiohttp's pattern: /v1/payments/{payment_id}

    def url(self, base: str, **params: str) -> str:
        """The route's URL on the gateway at `base`, its {placeholders} filled in."""
        return base.rstrip("/") + self.path.format(**params)

    @property
    def stats_name(self) -> str:
        """How Locust's request statistics name it: one row, whatever the ids."""
        return self.path.replace("{payment_id}", "[id]").replace("{", "[").replace("}", "]")


PAY = Route("pay", "POST", "/v1/payments")
QUERY = Route("query", "GET", "/v1/payments/{payment_id}")
REVERSE = Route("reverse", "POST", "/v1/payments/{payment_id}/reverse")
REFUND = Route("refund", "POST", "/v1/payments/{payment_id}/refunds")
ACCOUNT = Route("account", "GET", "/v1/accounts/{user_id}")
MERCHANT = Route("merchant", "GET", "/v1/merchants/{merchant_id}")
# The payment API: the routes faults can target, by name.
PAYMENT_ROUTES = (PAY, QUERY, REVERSE, REFUND, ACCOUNT, MERCHANT)
ROUTE_NAMES = tuple(r.name for r in PAYMENT_ROUTES)

HEALTHZ = Route("healthz", "GET", "/healthz")
METRICS = Route("metrics", "GET", "/metrics")
OPENAPI = Route("openapi", "GET", "/openapi.json")

AUDIT = Route("audit", "GET", "/_admin/audit")
EXPORT = Route("export", "GET", "/_admin/payments")  # ?key_prefix=P: JSON lines
FAULTS = Route("list_faults", "GET", "/_chaos/faults")
ADD_FAULT = Route("add_fault", "POST", "/_chaos/faults")
CLEAR_FAULTS = Route("clear_faults", "DELETE", "/_chaos/faults")
DELETE_FAULT = Route("delete_fault", "DELETE", "/_chaos/faults/{fault_id}")
EVENTS = Route("events", "GET", "/_chaos/events")
ADMIN_ROUTES = (AUDIT, EXPORT, FAULTS, ADD_FAULT, CLEAR_FAULTS, DELETE_FAULT, EVENTS)
# Every route under these needs the bearer token.
PROTECTED_PREFIXES = ("/_admin/", "/_chaos/")

ALL_ROUTES = (*PAYMENT_ROUTES, HEALTHZ, METRICS, OPENAPI, *ADMIN_ROUTES)
# (method, pattern) to the payment route's name, as the app's router matches it.
NAME_OF = {(r.method, r.path): r.name for r in PAYMENT_ROUTES}

_PATTERNS = tuple(
    (r, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", r.path) + "$"))
    for r in PAYMENT_ROUTES
)


def match(method: str, path: str) -> tuple[Route | None, dict[str, str]]:
    """The payment route a request is for, with its path params (`payment_id`, `user_id` …);
    (None, {}) for any other request."""
    for route, pattern in _PATTERNS:
        if route.method == method:
            m = pattern.match(path)
            if m is not None:
                return route, m.groupdict()
    return None, {}

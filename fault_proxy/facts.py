"""What faults can target in a proxied request: the route of the payment API it matches (the
route table, contract/routes.py), the user when the path or a payment's body says, and the key
its seeded draws use."""

from __future__ import annotations

import hashlib
import re

from aiohttp import web

from contract import routes
from faults import RequestFacts

_PATTERNS = tuple(
    (r.method, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", r.path) + "$"), r.name)
    for r in routes.PAYMENT_ROUTES
)


def route_of(method: str, path: str) -> tuple[str, dict[str, str]]:
    """The payment route's name and its path params; ("", {}) for any other request: a
    fault with a `route` target leaves it alone, one without applies to it."""
    for route_method, pattern, name in _PATTERNS:
        if method == route_method:
            m = pattern.match(path)
            if m is not None:
                return name, m.groupdict()
    return "", {}


def request_facts(request: web.Request, key_header: str, body: bytes | None) -> RequestFacts:
    """The facts of one request. Its key: the `key_header` (Idempotency-Key by default), or
    else the method, the path with its query and a hash of the body, so that the same request
    sent again draws the same as its first attempt did."""
    route, params = route_of(request.method, request.path)
    key = request.headers.get(key_header)
    if not key:
        digest = hashlib.blake2b(body or b"", digest_size=8).hexdigest()
        key = f"{request.method} {request.raw_path} {digest}"
    return RequestFacts(route=route, key=key, user_id=params.get("user_id"))

"""What faults can target in a proxied request: the route of the payment API it matches (the
route table, contract/routes.py), the user when the path or a payment's body says, and the key
its seeded draws use."""

from __future__ import annotations

import hashlib

from aiohttp import web

from contract import routes
from faults import RequestFacts


def request_facts(request: web.Request, key_header: str, body: bytes | None) -> RequestFacts:
    """The facts of one request. Its key: the `key_header` (Idempotency-Key by default), or
    else the method, the path with its query and a hash of the body, so that the same request
    sent again draws the same as its first attempt did."""
    route, params = routes.match(request.method, request.path)
    key = request.headers.get(key_header)
    if not key:
        digest = hashlib.blake2b(body or b"", digest_size=8).hexdigest()
        key = f"{request.method} {request.raw_path} {digest}"
    # Any other request has no route: a fault with a `route` target leaves it alone.
    name = route.name if route is not None else ""
    return RequestFacts(route=name, key=key, user_id=params.get("user_id"), path=request.path)

"""The proxy's settings, as the command line and tests give them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from contract.profile import DEFAULT, Capacity, Profile

DEFAULT_KEY_HEADER = "Idempotency-Key"

# No limit of its own on what it forwards: only a capacity fault shrinks it. Past the limit a
# fault sets, requests queue up to `queue` and the rest are shed with 503 SYSTEM_BUSY.
PROXY_CAPACITY = Capacity(max_inflight=None, queue=256, shedding=True, retry_after_s=1)
PROXY_PROFILE = replace(DEFAULT, capacity=PROXY_CAPACITY)


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    upstream: str
    """The service's base URL, `http://host:port`, already checked (contract/target.py)."""
    admin_token: str = ""
    """Bearer token for the proxy's own /_chaos; empty refuses every chaos request."""
    key_header: str = DEFAULT_KEY_HEADER
    """The request header a fault's seeded draws are keyed on; without it, the method, the
    path and a hash of the body."""
    max_body_bytes: int = 64 * 1024
    """The largest request body forwarded (413 past it), as the gateway's."""
    max_response_bytes: int = 8 * 1024 * 1024
    """The largest answer forwarded; past it the client's connection is cut."""
    upstream_timeout_s: float = 30.0
    """How long an answer may take before the proxy answers 504 CHANNEL_TIMEOUT."""
    profile: Profile = PROXY_PROFILE
    """Only its capacity (the proxy's admission) and retry_after_s are read."""

    def __post_init__(self) -> None:
        if not self.key_header.strip():
            raise ValueError("--key-header: expected a header name")
        if self.max_body_bytes < 1 or self.max_response_bytes < 1:
            raise ValueError("max_body_bytes and max_response_bytes: expected at least 1")
        if not 0 < self.upstream_timeout_s <= 3600:
            raise ValueError("--upstream-timeout-s: expected more than 0 and at most 3600")

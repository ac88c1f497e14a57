"""The gateway's settings, as the command line and tests give them."""

from __future__ import annotations

from dataclasses import dataclass

from contract.profile import DEFAULT, Profile

MEMORY_DB = ":memory:"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    db: str = MEMORY_DB
    """SQLite file; ":memory:" uses a temporary file removed at shutdown."""
    seed: int = 1
    accounts: int = 10_000
    merchants: int = 500
    admin_token: str = ""
    """Bearer token for /_admin and /_chaos; empty refuses every admin request."""
    durable: bool = True
    """fsync every commit (synchronous=FULL); off only for throwaway databases."""
    busy_timeout_ms: int = 60_000
    """How long the ledger writer waits for a database lock before its commit fails (the
    request itself answers DB_TIMEOUT after the profile's db_timeout_ms)."""
    max_body_bytes: int = 64 * 1024
    profile: Profile = DEFAULT
    """Capacity, channels, failover, breaker, risk, timeouts and settling."""

    def __post_init__(self) -> None:
        if self.accounts < 1:
            raise ValueError("accounts: expected at least 1")
        if self.merchants < 1:
            raise ValueError("merchants: expected at least 1")
        if self.busy_timeout_ms < 0:
            raise ValueError("busy_timeout_ms: expected 0 or more")

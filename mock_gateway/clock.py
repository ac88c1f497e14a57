"""Wall-clock timestamps as the API shows them: UTC, ISO 8601, milliseconds, a trailing Z."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

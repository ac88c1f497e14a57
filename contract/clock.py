"""Wall-clock timestamps as the API shows them: UTC, ISO 8601, milliseconds, a trailing Z."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_now_iso() -> str:
    return _iso(time.time_ns() // 1_000_000)


# Under load many payments share a millisecond: format each millisecond once (about 2 µs).
@lru_cache(maxsize=1)
def _iso(unix_ms: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=unix_ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

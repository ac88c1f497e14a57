"""Chance draws are keyed on the fault's seed and the request's idempotency key: two fresh
gateways given the same fault hit the same keys, in whatever order the requests come; another
seed hits another set."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from tests.mock_gateway.chaos_support import Chaos, Shop, fast_profile, settled_audit
from tests.mock_gateway.conftest import StartApi

# Forty payments at once on a busy machine can outlast the fast profile's 300 ms channel
# timeout; the draws are the subject here, not the timeouts.
PROFILE = fast_profile(timeouts={"channel_ms": 10_000, "db_ms": 10_000})
KEYS = [f"k-{n:02d}" for n in range(40)]

SPECS = {
    "error_rate": {
        "kind": "error",
        "params": {"code": "INTERNAL_ERROR", "rate": 0.5},
        "target": {"route": "pay"},
    },
    "probability": {
        "kind": "error",
        "params": {"code": "INTERNAL_ERROR"},
        "target": {"route": "pay", "probability": 0.5},
    },
    "risk_strict": {"kind": "risk_strict", "params": {"false_positive_rate": 0.5}},
}


async def _hit_keys(
    start_api: StartApi, db: Path, spec: dict[str, Any], seed: int, order: list[str]
) -> frozenset[str]:
    api = await start_api(profile=PROFILE, db=str(db))
    shop = await Shop.open(api, db, PROFILE)
    fault = await Chaos(api).add_active({**spec, "seed": seed})
    if order == KEYS:
        seen = list(await asyncio.gather(*(shop.pay(key) for key in order)))
    else:
        seen = [await shop.pay(key) for key in order]
    for s in seen:
        assert s.status in (200, 402, 500), s.body
        assert s.markers == ((fault["id"],) if s.status != 200 else ())
    await settled_audit(api)
    return frozenset(s.key for s in seen if s.markers)


@pytest.mark.parametrize("name", list(SPECS))
async def test_same_seed_same_keys_in_any_order(
    start_api: StartApi, tmp_path: Path, name: str
) -> None:
    spec = SPECS[name]
    shuffled = random.Random(5).sample(KEYS, len(KEYS))

    first = await _hit_keys(start_api, tmp_path / "a.db", spec, 7, KEYS)
    again = await _hit_keys(start_api, tmp_path / "b.db", spec, 7, shuffled)
    other = await _hit_keys(start_api, tmp_path / "c.db", spec, 8, list(reversed(KEYS)))

    assert 0.2 * len(KEYS) <= len(first) <= 0.8 * len(KEYS), len(first)
    assert again == first
    assert other != first


async def test_a_retry_under_the_same_key_draws_again(start_api: StartApi, tmp_path: Path) -> None:
    """A key hit on its first attempt is not doomed: its retries are new attempts, each with
    its own draw, so backing off and retrying wins payments back through a partial fault."""
    db = tmp_path / "r.db"
    api = await start_api(profile=PROFILE, db=str(db))
    shop = await Shop.open(api, db, PROFILE)
    await Chaos(api).add_active({**SPECS["error_rate"], "seed": 7})
    first = [await shop.pay(key) for key in KEYS]
    hit = [s.key for s in first if s.status == 500]
    assert hit
    retried = [await shop.pay(key) for key in hit]
    assert any(s.status == 200 for s in retried), "every retry drew the same as the first try"
    assert any(s.status == 500 for s in retried)  # still a 50 % fault, not switched off

"""`network` (reset, empty, malformed, slow_body) and `lost_response`: the payment is handled
and committed, then its response is broken or never arrives. Read as bytes on the wire."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.mock_gateway.chaos_support import (
    AMOUNT,
    Chaos,
    Seen,
    Shop,
    fast_profile,
    settled_audit,
)
from tests.mock_gateway.conftest import StartApi
from tests.mock_gateway.fault_lifecycle import Case, Outcome, check_lifecycle

PROFILE = fast_profile()
SLOW_MS = 200
PAY_ONLY = {"route": "pay"}


def _parses(seen: Seen) -> bool:
    try:
        json.loads(seen.body)
    except ValueError:
        return False
    return True


def _probe(broken: Callable[[Seen], bool]) -> Callable[[Shop], Awaitable[Outcome]]:
    """Pay once; `broken` says whether the answer was broken. Either way the payment was
    made and committed: the credit is taken."""

    async def probe(shop: Shop) -> Outcome:
        available = await shop.available()
        seen = await shop.pay_raw()
        hit = broken(seen)
        if not hit:
            assert seen.status == 200 and _parses(seen), (seen.status, seen.body)
            assert seen.json()["status"] == "SUCCEEDED"
        assert await shop.available() == available - AMOUNT, "committed all the same"
        return Outcome.of(hit, seen)

    return probe


def _dropped(seen: Seen) -> bool:
    return seen.status is None


def _empty(seen: Seen) -> bool:
    return seen.status == 200 and seen.body == b"" and bool(seen.markers)


def _malformed(seen: Seen) -> bool:
    return seen.status == 200 and not _parses(seen) and bool(seen.markers)


def _slow(seen: Seen) -> bool:
    return _parses(seen) and bool(seen.markers) and seen.elapsed_s >= SLOW_MS / 1000


def _network(mode: str, **params: object) -> dict[str, object]:
    return {"kind": "network", "params": {"mode": mode, **params}, "target": PAY_ONLY}


CASES = [
    Case("reset", _network("reset"), _probe(_dropped), marked=False),
    Case("empty", _network("empty"), _probe(_empty)),
    Case("malformed", _network("malformed"), _probe(_malformed)),
    Case("slow_body", _network("slow_body", slow_ms=SLOW_MS), _probe(_slow)),
    Case(
        "lost_response",
        {"kind": "lost_response", "target": PAY_ONLY},
        _probe(_dropped),
        marked=False,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_lifecycle(start_api: StartApi, db_path: Path, case: Case) -> None:
    api = await start_api(profile=PROFILE)
    await check_lifecycle(await Shop.open(api, db_path, PROFILE), case)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_a_replay_tells_the_client_what_happened(
    start_api: StartApi, db_path: Path, case: Case
) -> None:
    api = await start_api(profile=PROFILE)
    shop = await Shop.open(api, db_path, PROFILE)
    chaos = Chaos(api)
    await chaos.add_active(case.spec)
    broken = await shop.pay_raw()
    assert (await case.probe(shop)).hit
    if case.id != "lost_response":
        await chaos.clear()  # a network fault breaks replays too; lost_response spares them

    replay = await shop.pay(broken.key)

    assert (replay.status, replay.replayed, replay.markers) == (200, True, ())
    payment = replay.json()
    assert payment["status"] == "SUCCEEDED"
    assert await api.payment(payment["payment_id"]) == payment
    await settled_audit(api)

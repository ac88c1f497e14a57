"""`network` (reset, empty, malformed, slow_body) and `lost_response`: the payment is handled
and committed, then its response is broken or never arrives — a replay's too. Read as bytes
on the wire."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.mock_gateway.chaos_support import (
    AMOUNT,
    Chaos,
    Seen,
    Shop,
    fast_profile,
    metric,
    settled_audit,
    stored_answer,
)
from tests.mock_gateway.conftest import StartApi
from tests.mock_gateway.fault_lifecycle import Case, Outcome, check_lifecycle

PROFILE = fast_profile()
SLOW_MS = 200
PAY_ONLY = {"route": "pay"}
# A dropped connection leaves no response to carry the marker.
MARKED = ("empty", "malformed", "slow_body")


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


def _network(mode: str, **params: object) -> dict[str, Any]:
    return {"kind": "network", "params": {"mode": mode, **params}, "target": PAY_ONLY}


BROKEN = {
    "reset": _dropped,
    "empty": _empty,
    "malformed": _malformed,
    "slow_body": _slow,
    "lost_response": _dropped,
}
SPECS: dict[str, dict[str, Any]] = {
    "reset": _network("reset"),
    "empty": _network("empty"),
    "malformed": _network("malformed"),
    "slow_body": _network("slow_body", slow_ms=SLOW_MS),
    "lost_response": {"kind": "lost_response", "target": PAY_ONLY},
}
CASES = [Case(name, SPECS[name], _probe(BROKEN[name]), marked=name in MARKED) for name in SPECS]


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
    fault = await chaos.add_active(case.spec)
    available = await shop.available()
    broken = await shop.pay_raw()
    assert BROKEN[case.id](broken), broken
    before = await metric(api, "paystorm_faults_injected_total", kind=case.kind)

    # A replay travels the same network as the first attempt: broken the same way.
    again = await shop.pay_raw(broken.key)
    assert BROKEN[case.id](again), again
    if case.marked:
        assert again.replayed and again.markers == (fault["id"],)
    assert await metric(api, "paystorm_faults_injected_total", kind=case.kind) == before + 1
    await chaos.clear()

    replay = await shop.pay(broken.key)

    assert (replay.status, replay.replayed, replay.markers) == (200, True, ())
    assert replay.body == stored_answer(db_path, "pay", broken.key)[1]
    payment = replay.json()
    assert payment["status"] == "SUCCEEDED"
    assert await api.payment(payment["payment_id"]) == payment
    assert await shop.available() == available - AMOUNT, "charged once"
    await settled_audit(api)

"""The chaos admin API itself: a bad fault is a 400 naming the field and schedules nothing;
every route wants the token; what a fault looks like once added."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mock_gateway.chaos_support import AUTH, Chaos
from tests.mock_gateway.support import TOKEN, Api

LATENCY = {"kind": "latency", "params": {"ms": 10}}


def _with(**changes: Any) -> dict[str, Any]:
    return {**LATENCY, **changes}


def _kind(kind: str, **params: Any) -> dict[str, Any]:
    return {"kind": kind, "params": params}


BAD: list[tuple[str, Any, str]] = [
    ("unknown kind", {"kind": "flood"}, "kind"),
    ("no kind", {"params": {"ms": 1}}, "kind"),
    ("kind not a string", {"kind": ["latency"]}, "kind"),
    ("kind an object", {"kind": {"latency": 1}}, "kind"),
    ("missing param", {"kind": "latency"}, "params.ms"),
    ("missing channel", _kind("channel_outage"), "params.channel"),
    ("negative", _kind("latency", ms=-1), "params.ms"),
    ("too long", _kind("timeout", ms=10**9), "params.ms"),
    ("string for number", _kind("latency", ms="200"), "params.ms"),
    ("bool for number", _kind("latency", ms=True), "params.ms"),
    ("unknown param", _kind("latency", ms=1, foo=2), "params.foo"),
    ("params a list", {"kind": "latency", "params": [1]}, "params"),
    ("params empty list", {"kind": "lost_response", "params": []}, "params"),
    ("params zero", {"kind": "lost_response", "params": 0}, "params"),
    ("bad distribution", _kind("latency", ms=1, distribution="x"), "params.distribution"),
    ("unknown code", _kind("error", code="OOPS"), "params.code"),
    ("pending is no error", _kind("error", code="PAYMENT_PENDING"), "params.code"),
    ("rate above 1", _kind("error", code="INTERNAL_ERROR", rate=1.5), "params.rate"),
    ("unknown channel", _kind("channel_outage", channel="bank_z"), "params.channel"),
    ("unknown mode", _kind("channel_outage", channel="bank_a", mode="flaky"), "params.mode"),
    ("every below a ms", _kind("db_stall", hold_ms=500, every_ms=0.5), "params.every_ms"),
    ("neither share nor ids", _kind("merchant_unsupported"), "params.share"),
    ("both", _kind("merchant_unsupported", share=0.5, merchant_ids=["m00001"]), "params.share"),
    ("empty ids", _kind("merchant_unsupported", merchant_ids=[]), "params.merchant_ids"),
    ("zero rps", _kind("rate_limit", rps=0), "params.rps"),
    ("unknown per", _kind("rate_limit", rps=1, per="team"), "params.per"),
    ("no inflight", _kind("capacity", max_inflight=0), "params.max_inflight"),
    ("fractional inflight", _kind("capacity", max_inflight=2.5), "params.max_inflight"),
    ("unknown network mode", _kind("network", mode="garbled"), "params.mode"),
    ("param of a kind without", _kind("lost_response", x=1), "params.x"),
    ("rate of 2", _kind("risk_strict", false_positive_rate=2), "params.false_positive_rate"),
    ("unknown target field", _with(target={"colour": "red"}), "target.colour"),
    ("bad route", _with(target={"route": "payz"}), "target.route"),
    ("unknown target channel", _with(target={"channel": "bank_z"}), "target.channel"),
    ("probability above 1", _with(target={"probability": 1.5}), "target.probability"),
    ("negative min_inflight", _with(target={"min_inflight": -1}), "target.min_inflight"),
    ("huge min_inflight", _with(target={"min_inflight": 10**7}), "target.min_inflight"),
    ("seed past int64", _with(seed=-(2**63) - 1), "seed"),
    ("user_id a number", _with(target={"user_id": 5}), "target.user_id"),
    ("target a string", _with(target="pay"), "target"),
    ("start in the past", _with(start_in_s=-1), "start_in_s"),
    ("start a word", _with(start_in_s="soon"), "start_in_s"),
    ("zero duration", _with(duration_s=0), "duration_s"),
    ("fractional seed", _with(seed=1.5), "seed"),
    ("unknown field", _with(when=3), "when"),
    ("body a list", [LATENCY], "body"),
]


@pytest.mark.parametrize(("spec", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
async def test_a_bad_fault_is_400_naming_the_field(api: Api, spec: Any, field: str) -> None:
    chaos = Chaos(api)
    await chaos.add({**LATENCY, "start_in_s": 60})
    before = await chaos.faults()

    reply = await api.post("/_chaos/faults", body=spec, headers=AUTH)

    assert reply.status == 400, reply.body
    assert reply.error["code"] == "INVALID_REQUEST"
    assert reply.fields[0] == field, reply.error
    assert await chaos.faults() == before, "nothing scheduled"
    assert await chaos.events() == []
    # The document refuses it too: a generator that follows it never sends it.
    if isinstance(spec, dict):
        with pytest.raises(AssertionError):
            api.contract.validate_named("FaultSpec", spec)


@pytest.mark.parametrize("data", [b"{", b"", b"null", b"\xff"])
async def test_a_body_that_is_not_a_fault_is_400(api: Api, data: bytes) -> None:
    reply = await api.post("/_chaos/faults", data=data, headers=AUTH)
    assert (reply.status, reply.error["code"]) == (400, "INVALID_REQUEST")
    assert reply.fields[0] in ("body", "kind")
    assert await Chaos(api).faults() == []


CHAOS_ROUTES = [
    ("GET", "/_chaos/faults"),
    ("POST", "/_chaos/faults"),
    ("DELETE", "/_chaos/faults"),
    ("DELETE", "/_chaos/faults/f1"),
    ("GET", "/_chaos/events"),
]


@pytest.mark.parametrize(("method", "path"), CHAOS_ROUTES)
@pytest.mark.parametrize("authorization", [None, f"Bearer {TOKEN}x"])
async def test_every_chaos_route_wants_the_token(
    api: Api, method: str, path: str, authorization: str | None
) -> None:
    chaos = Chaos(api)
    await chaos.add({**LATENCY, "start_in_s": 60})
    before = await chaos.faults()
    headers = {} if authorization is None else {"Authorization": authorization}

    reply = await api.call(method, path, body=LATENCY, headers=headers)

    assert (reply.status, reply.error["code"]) == (401, "UNAUTHORIZED")
    assert "faults" not in reply.json() and "events" not in reply.json()
    assert await chaos.faults() == before, "nothing changed"


async def test_an_added_fault_shows_what_was_asked(api: Api) -> None:
    chaos = Chaos(api)
    target = {"route": "pay", "merchant_id": "m00002", "probability": 0.5}
    spec = {
        "kind": "error",
        "params": {"code": "INTERNAL_ERROR", "rate": 0.25},
        "target": target,
        "start_in_s": 60,
        "duration_s": 5,
        "seed": 2**62 + 1,  # kept exact, not rounded through a float
    }

    fault = await chaos.add(spec)

    assert fault["id"] and fault["kind"] == "error"
    assert fault["params"] == spec["params"]
    assert fault["target"] == {**target, "min_inflight": 0}
    assert (fault["start_in_s"], fault["duration_s"], fault["seed"]) == (60, 5, 2**62 + 1)
    assert (fault["state"], fault["started_at"], fault["ended_at"]) == ("scheduled", None, None)
    assert await chaos.faults() == [fault]


async def test_removing_an_unknown_fault_is_404(api: Api) -> None:
    reply = await api.call("DELETE", "/_chaos/faults/f999", headers=AUTH)
    assert (reply.status, reply.error["code"], reply.fields) == (404, "NOT_FOUND", ["fault_id"])
    assert await Chaos(api).clear() == 0

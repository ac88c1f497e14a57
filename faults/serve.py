"""The faults around one HTTP request, as every host applies them (the mock gateway, the fault
proxy): who pays whom, peeked at for targeting; the `X-Paystorm-Fault` marker; the answer
lost or broken when a fault says so; a request held by a blackhole and then dropped."""

from __future__ import annotations

import orjson
from aiohttp import web

from faults.chaos import Chaos
from faults.ports import Answer, RequestFacts
from faults.shaping import drop_connection, reshaped

FAULT_HEADER = "X-Paystorm-Fault"
"""On every answer a fault shaped: the ids of the faults that did, comma-separated."""


async def peek_payment(request: web.Request, facts: RequestFacts) -> None:
    """Who pays whom, read before the body is validated, so that faults at the edge can
    target a payment's user or merchant; a body that does not say leaves them unknown."""
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return
    if isinstance(body, dict):
        user, merchant = body.get("user_id"), body.get("merchant_id")
        facts.user_id = user if isinstance(user, str) else None
        facts.merchant_id = merchant if isinstance(merchant, str) else None


async def shape(
    request: web.Request, chaos: Chaos, facts: RequestFacts, resp: web.StreamResponse
) -> web.StreamResponse:
    """Mark what faults did to the response, and lose or break it when a fault says so.

    Runs for every routed request once it was handled (or refused), so faults acting on the
    answer act on every attempt alike: a first payment, a replay of its stored answer, a
    query, a reversal, a refund."""
    reshape = chaos.respond(facts)
    if facts.fault_ids:
        resp.headers[FAULT_HEADER] = ",".join(facts.fault_ids)
    if reshape is not None:
        return await reshaped(request, resp, reshape)
    return resp


def dropped(request: web.Request) -> web.Response:
    """A request a fault dropped (`ports.Dropped`): its connection is cut, nothing is sent."""
    drop_connection(request)
    return web.Response(status=499)  # never sent: only the metrics see it


def answered(answer: Answer) -> web.Response:
    """A fault's own answer (`ports.Answer`), as given."""
    return web.Response(
        status=answer.status, body=answer.body, headers={"Content-Type": answer.content_type}
    )

"""A stand-in for the gateway that answers a shopper's two calls at once, so a benchmark of the
load generator measures Locust and the arrival executor, not the gateway's own limits.

    python -m bench.stub_gateway [PORT]

It answers just enough for `paystorm run --target`: /healthz with the population, the account
page, payments (always SUCCEEDED), an empty /metrics and an audit that holds.
"""

from __future__ import annotations

import asyncio
import sys

import orjson
import uvloop
from aiohttp import web

ACCOUNTS = 10_000
MERCHANTS = 500
CREDIT_FEN = 1_000_000


def _json(data: object) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "ok", "accounts": ACCOUNTS, "merchants": MERCHANTS})


async def account(request: web.Request) -> web.Response:
    return _json(
        {
            "user_id": request.match_info["user_id"],
            "credit_limit": CREDIT_FEN,
            "available_credit": CREDIT_FEN,
            "txn_limit": CREDIT_FEN,
            "status": "ACTIVE",
        }
    )


async def pay(request: web.Request) -> web.Response:
    body = orjson.loads(await request.read())
    return _json(
        {
            "payment_id": f"pay_{request.headers.get('Idempotency-Key', 'stub')[:24]}",
            "status": "SUCCEEDED",
            "amount": body["amount"],
            "refunded": 0,
            "user_id": body["user_id"],
            "merchant_id": body["merchant_id"],
            "channel": "bank_a",
            "code": None,
        }
    )


async def metrics(request: web.Request) -> web.Response:
    return web.Response(text="", content_type="text/plain")


async def audit(request: web.Request) -> web.Response:
    return _json({"ok": True, "checks": {}, "pending": 0})


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/v1/accounts/{user_id}", account)
    app.router.add_post("/v1/payments", pay)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/_admin/audit", audit)
    return app


async def main(port: int) -> None:
    runner = web.AppRunner(create_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    print(f"stub gateway listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))

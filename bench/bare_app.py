"""The baseline the gateway is measured against: a bare aiohttp handler that parses a JSON
payment and answers JSON, on the same loop (uvloop) and JSON library (orjson) as the gateway.

    python -m bench.bare_app PORT
"""

from __future__ import annotations

import asyncio
import sys

import orjson
import uvloop
from aiohttp import web


async def pay(request: web.Request) -> web.Response:
    body = orjson.loads(await request.read())
    answer = {
        "payment_id": "pay_bare",
        "status": "SUCCEEDED",
        "amount": body["amount"],
        "user_id": body["user_id"],
        "merchant_id": body["merchant_id"],
    }
    return web.Response(body=orjson.dumps(answer), content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")


async def main(port: int) -> None:
    app = web.Application()
    app.router.add_post("/v1/payments", pay)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    print(f"bare handler listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))

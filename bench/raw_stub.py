"""The stub gateway's answers from a bare asyncio protocol: several times faster than any
aiohttp app, so a benchmark of the load generator finds Locust's ceiling, not the stub's.

    python -m bench.raw_stub [PORT]

It parses only what it needs (the request line and Content-Length, keep-alive) and answers
the same paths as bench/stub_gateway.py; a payment echoes nothing but its key.
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

import orjson
import uvloop

from bench.stub_gateway import ACCOUNTS, CREDIT_FEN, MERCHANTS


def _answer(status: str, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n".encode()
        + b"Content-Type: "
        + content_type
        + b"\r\n\r\n"
        + body
    )


HEALTHZ = _answer(
    "200 OK", orjson.dumps({"status": "ok", "accounts": ACCOUNTS, "merchants": MERCHANTS})
)
AUDIT = _answer("200 OK", orjson.dumps({"ok": True, "checks": {}, "pending": 0}))
METRICS = _answer("200 OK", b"", b"text/plain")
NOT_FOUND = _answer(
    "404 Not Found", orjson.dumps({"error": {"code": "NOT_FOUND", "message": "stub"}})
)


def account(user_id: bytes) -> bytes:
    body = orjson.dumps(
        {
            "user_id": user_id.decode(),
            "credit_limit": CREDIT_FEN,
            "available_credit": CREDIT_FEN,
            "txn_limit": CREDIT_FEN,
            "status": "ACTIVE",
        }
    )
    return _answer("200 OK", body)


def payment(key: bytes) -> bytes:
    body = orjson.dumps(
        {"payment_id": f"pay_{key[:24].decode()}", "status": "SUCCEEDED", "code": None}
    )
    return _answer("200 OK", body)


class Stub(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but they write alike.
        self.transport = cast(asyncio.Transport, transport)
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            key = b"stub"
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                lowered = name.strip().lower()
                if lowered == b"content-length":
                    length = int(value)
                elif lowered == b"idempotency-key":
                    key = value.strip()
            if len(self.buffer) < end + 4 + length:
                return  # the body is still on its way
            self.buffer = self.buffer[end + 4 + length :]
            method, path, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
            self.transport.write(route(method, path, key))


def route(method: bytes, path: bytes, key: bytes) -> bytes:
    if method == b"POST" and path == b"/v1/payments":
        return payment(key)
    if method == b"GET" and path.startswith(b"/v1/accounts/"):
        return account(path.rsplit(b"/", 1)[1])
    if path == b"/healthz":
        return HEALTHZ
    if path == b"/metrics":
        return METRICS
    if path == b"/_admin/audit":
        return AUDIT
    return NOT_FOUND


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Stub, "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"raw stub listening on http://127.0.0.1:{bound}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))

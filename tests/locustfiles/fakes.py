"""Fakes for driving the client seam in-process: a transport that answers from a script and
records what it was sent, and a clock that only moves when the client sleeps."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson

from contract.codes import CATALOGUE
from locustfiles.client.gateway import GatewayClient
from locustfiles.client.transport import CONNECTION, TIMEOUT, Answer, Request
from locustfiles.outcomes import Payment, Recorder
from scenarios.model import ClientPolicy

Reply = Answer | Callable[[Request], Answer]


def ok(http_status: int = 200, retry_after: str | None = None, **body: Any) -> Answer:
    return Answer(http_status, orjson.dumps(body), retry_after)


def error(code: str, retry_after: str | None = None, **extra: Any) -> Answer:
    """The gateway's error answer for a catalogue code, as its middleware sends it."""
    spec = CATALOGUE[code]
    body = {"code": code, "message": spec.message, "retryable": spec.retryable, **extra}
    return Answer(spec.http_status, orjson.dumps({"error": body}), retry_after)


def timeout() -> Answer:
    return Answer(0, failure=TIMEOUT, elapsed_ms=5000.0, error="TimeoutError")


def refused() -> Answer:
    return Answer(0, failure=CONNECTION, elapsed_ms=1.0, error="ConnectionRefusedError")


class ScriptedTransport:
    """Answers each request with the next reply of the script, then with `then` forever."""

    def __init__(self, *script: Reply, then: Reply | None = None) -> None:
        self.script = list(script)
        self.then = then
        self.sent: list[Request] = []
        self.dropped: list[Request] = []

    def send(self, request: Request) -> Answer:
        self.sent.append(request)
        if self.script:
            reply = self.script.pop(0)
        elif self.then is not None:
            reply = self.then
        else:
            raise AssertionError(f"unscripted request {request.method} {request.path}")
        return reply(request) if callable(reply) else reply

    def send_and_drop(self, request: Request) -> Answer:
        self.dropped.append(request)
        return Answer(0, failure=CONNECTION, error="weak network: connection dropped")

    @property
    def routes(self) -> list[str]:
        return [f"{r.method} {r.name}" for r in self.sent]


class FakeClock:
    """Monotonic time that passes only in the client's sleeps (and in `tick` per read)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def payment(key: str = "k-1", **fields: Any) -> Payment:
    return Payment(
        key=key, user_id="u000001", merchant_id="m00001", amount=1500, start_s=1.0, **fields
    )


def client(
    transport: ScriptedTransport,
    policy: ClientPolicy | None = None,
    *,
    seed: int = 1,
    rng: random.Random | None = None,
    clock: FakeClock | None = None,
    recorder: Recorder | None = None,
    weak_transport: Any = None,
) -> tuple[GatewayClient, FakeClock]:
    clock = clock or FakeClock()
    recorder = recorder or Recorder()
    gateway = GatewayClient(
        transport,
        policy or ClientPolicy(),
        rng or random.Random(seed),
        sleep=clock.sleep,
        clock=clock,
        weak_transport=weak_transport,
        attempted=recorder.attempted,
    )
    return gateway, clock

"""Fixtures: an in-process gateway on an ephemeral port, and real `python -m mock_gateway`
processes that are always killed at teardown."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from contract.admin import AdminClient
from mock_gateway.app import create_app
from mock_gateway.config import GatewayConfig
from tests.mock_gateway.support import ACCOUNTS, MERCHANTS, TOKEN, Api

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"^paystorm gateway listening on (http://127\.0\.0\.1:(\d+))$")
START_TIMEOUT_S = 30.0


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "g.db"


@pytest.fixture
def gateway_config(db_path: Path) -> GatewayConfig:
    return GatewayConfig(db=str(db_path), accounts=ACCOUNTS, merchants=MERCHANTS, admin_token=TOKEN)


@pytest.fixture
async def client(
    aiohttp_client: AiohttpClient, gateway_config: GatewayConfig
) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(create_app(gateway_config))


@pytest.fixture
async def api(client: TestClient[web.Request, web.Application]) -> Api:
    return await Api.connect(client.session, str(client.make_url("/")))


StartApi = Callable[..., Awaitable[Api]]


@pytest.fixture
def start_api(aiohttp_client: AiohttpClient, gateway_config: GatewayConfig) -> StartApi:
    """An in-process gateway like `api`'s with some settings changed; not both in one test,
    since they would share one database file."""

    async def start(**changes: Any) -> Api:
        client = await aiohttp_client(create_app(dataclasses.replace(gateway_config, **changes)))
        return await Api.connect(client.session, str(client.make_url("/")))

    return start


@pytest.fixture
async def patient_api(start_api: StartApi) -> Api:
    """A gateway whose writer waits long enough for a test to hold the database lock."""
    return await start_api(busy_timeout_ms=60_000)


# -- processes ------------------------------------------------------------------------------


def gateway_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mock_gateway", *args]


def _pump(stream: IO[str], lines: list[str], sink: queue.Queue[str | None] | None) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))
        if sink is not None:
            sink.put(line.rstrip("\n"))
    if sink is not None:
        sink.put(None)


@dataclass
class GatewayProcess:
    proc: subprocess.Popen[str]
    url: str = ""
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    async def exited(self, timeout_s: float = 30.0) -> int:
        code = await asyncio.to_thread(self.proc.wait, timeout_s)
        await asyncio.to_thread(self.join_output)
        return code

    def join_output(self) -> None:
        for t in self.threads:
            t.join(timeout=10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.join_output()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class Gateways:
    """Starts gateway processes; the fixture kills whatever is still running at teardown."""

    def __init__(self) -> None:
        self.started: list[GatewayProcess] = []

    def spawn(self, *args: str) -> GatewayProcess:
        proc = subprocess.Popen(
            gateway_command(*args),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        gp = GatewayProcess(proc)
        self.started.append(gp)
        return gp

    async def start(
        self,
        db: Path,
        *,
        accounts: int = ACCOUNTS,
        merchants: int = MERCHANTS,
        token: str = TOKEN,
        extra: tuple[str, ...] = (),
    ) -> GatewayProcess:
        gp = self.spawn(
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
            str(db),
            "--admin-token",
            token,
            "--accounts",
            str(accounts),
            "--merchants",
            str(merchants),
            *extra,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        assert gp.proc.stdout is not None and gp.proc.stderr is not None
        gp.threads = [
            threading.Thread(target=_pump, args=(gp.proc.stdout, gp.stdout, lines), daemon=True),
            threading.Thread(target=_pump, args=(gp.proc.stderr, gp.stderr, None), daemon=True),
        ]
        for t in gp.threads:
            t.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while not gp.url:
            remaining = deadline - loop.time()
            assert remaining > 0, f"no listening line; stdout {gp.stdout} stderr {gp.stderr}"
            try:
                line = await asyncio.to_thread(lines.get, True, remaining)
            except queue.Empty:
                continue
            if line is None:
                gp.proc.wait(timeout=10)
                gp.join_output()
                raise AssertionError(f"gateway exited {gp.proc.returncode}: {gp.stderr}")
            if m := LISTENING.match(line):
                gp.url = m.group(1)
                assert int(m.group(2)) > 0
        await self._healthy(gp, deadline)
        return gp

    async def _healthy(self, gp: GatewayProcess, deadline: float) -> None:
        remaining = deadline - asyncio.get_running_loop().time()
        admin = AdminClient(gp.url)
        await asyncio.to_thread(admin.wait_healthy, time.monotonic() + remaining)

    def close(self) -> None:
        for gp in self.started:
            gp.close()


@pytest.fixture
def gateways() -> Iterator[Gateways]:
    launcher = Gateways()
    try:
        yield launcher
    finally:
        launcher.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session

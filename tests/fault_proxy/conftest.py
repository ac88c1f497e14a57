"""Fixtures: mock gateways and fault proxies served in this process on ephemeral ports, each
spoken to over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from contract import routes, serving
from fault_proxy.app import ProxyRunner
from fault_proxy.app import create_app as create_proxy
from fault_proxy.config import ProxyConfig
from mock_gateway.app import create_app as create_gateway
from mock_gateway.config import GatewayConfig
from tests.mock_gateway.chaos_support import fast_profile
from tests.mock_gateway.support import ACCOUNTS, MERCHANTS, TOKEN, wait_until

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Server:
    """A gateway or a proxy: its base URL, and its chaos API with the test's token."""

    base: str
    session: aiohttp.ClientSession

    async def add_active(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        async with self.session.post(
            self.base + routes.ADD_FAULT.path, json=dict(spec), headers=AUTH
        ) as r:
            assert r.status == 201, await r.text()
            fault: dict[str, Any] = await r.json()

        async def active() -> bool:
            async with self.session.get(self.base + routes.FAULTS.path, headers=AUTH) as r:
                faults = (await r.json())["faults"]
            return any(f["id"] == fault["id"] and f["state"] == "active" for f in faults)

        await wait_until(active, f"{fault['id']} to be active")
        return fault

    async def clear(self) -> None:
        async with self.session.delete(self.base + routes.CLEAR_FAULTS.path, headers=AUTH) as r:
            assert r.status == 200

    async def events(self) -> list[dict[str, Any]]:
        async with self.session.get(self.base + routes.EVENTS.path, headers=AUTH) as r:
            assert r.status == 200
            return list((await r.json())["events"])


StartServer = Callable[..., Awaitable[Server]]


@pytest.fixture
async def session() -> Any:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def start_gateway(
    aiohttp_server: AiohttpServer, session: aiohttp.ClientSession, tmp_path: Any
) -> StartServer:
    count = 0

    async def start() -> Server:
        nonlocal count
        count += 1
        config = GatewayConfig(
            db=str(tmp_path / f"g{count}.db"),
            accounts=ACCOUNTS,
            merchants=MERCHANTS,
            admin_token=TOKEN,
            durable=False,
            # A busy machine can hold a payment past the fast profile's 300 ms channel
            # timeout; the proxy's faults are the subject here, not the gateway's timeouts.
            profile=fast_profile(timeouts={"channel_ms": 10_000, "db_ms": 10_000}),
        )
        server = await aiohttp_server(create_gateway(config))
        return Server(str(server.make_url("")).rstrip("/"), session)

    return start


@pytest.fixture
async def start_proxy(session: aiohttp.ClientSession) -> AsyncIterator[StartServer]:
    """Proxies served by the command line's runner (ProxyRunner) on ephemeral ports."""
    runners: list[ProxyRunner] = []

    async def start(upstream: str, **settings: Any) -> Server:
        config = ProxyConfig(upstream=upstream, admin_token=TOKEN, **settings)
        runner = ProxyRunner(create_proxy(config))
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return Server(serving.url("127.0.0.1", runner.addresses[0][1]), session)

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def start_app(aiohttp_server: AiohttpServer, session: aiohttp.ClientSession) -> StartServer:
    """Any small aiohttp app as an upstream."""

    async def start(app: web.Application) -> Server:
        server = await aiohttp_server(app)
        return Server(str(server.make_url("")).rstrip("/"), session)

    return start

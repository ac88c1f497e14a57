"""The proxy's application factory: its own /healthz, /metrics and /_chaos (the same chaos API
as the gateway's); every other request is forwarded to the upstream through the faults."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import _RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from contract import limits, routes
from contract.clock import utc_now_iso
from contract.codes import GatewayError
from contract.serving import authorized, error_response, new_request_id, unexpected
from fault_proxy import forward, kinds
from fault_proxy.config import ProxyConfig
from fault_proxy.facts import request_facts
from fault_proxy.keys import (
    REQUEST_ID,
    admission_key,
    chaos_key,
    config_key,
    lane_key,
    metrics_key,
    upstream_key,
)
from fault_proxy.lane import CHAOS_PREFIX, OWN_PATHS, FrontConn, Lane, LaneCollector, own
from faults import Answer, Chaos, Dropped, FaultEngine, Gateway, RequestFacts
from faults import api as chaos_api
from faults.admission import Admission, Shed
from faults.metrics import CONTENT_TYPE_LATEST, AdmissionCollector, FaultCollector, Metrics
from faults.serve import FAULT_HEADER, answered, dropped, peek_payment, shape

log = logging.getLogger("fault_proxy")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
KEEPALIVE_S = 75.0  # aiohttp's server's default keepalive_timeout
SWEEP_S = 5.0


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The proxy's own routes (health, metrics, the chaos API) as every request is observed."""
    return await observed(request.app, request, handler)


async def observed(
    app: web.Application, request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Request id, the chaos API's token, sizes, error mapping and metrics, for every request."""
    request_id = new_request_id()
    request[REQUEST_ID] = request_id
    http = app[metrics_key].http
    http.inflight += 1
    started = time.perf_counter()
    label = "proxied"
    resp: web.StreamResponse
    try:
        limits.check_request(request, app[config_key].max_body_bytes)
        if request.path.startswith(CHAOS_PREFIX):
            label = "chaos"
            if not authorized(request, app[config_key].admin_token):
                raise GatewayError("UNAUTHORIZED")
        elif request.path in OWN_PATHS:
            label = request.path
        resp = await handler(request)
    except GatewayError as err:
        resp = error_response(err, request_id)
    except Dropped:
        resp = dropped(request)
    except Exception as exc:  # a CancelledError is no Exception: it goes on up
        resp = unexpected(exc, request, request_id, app[config_key].max_body_bytes, log)
    finally:
        http.inflight -= 1
    if not resp.prepared:
        resp.headers.setdefault("X-Request-Id", request_id)  # the upstream's own, if it sent one
    http.answered(label, resp.status, time.perf_counter() - started)
    return resp


async def proxied(app: web.Application, request: web.Request) -> web.StreamResponse:
    """One request through the faults to the upstream and back. With no fault active it is
    streamed through untouched; with one, its body and answer are read whole so that faults
    can draw on them and reshape the answer."""
    chaos = app[chaos_key]
    if not chaos.engine.active_total:
        async with app[admission_key].slot():
            return await forward.exchange(app, request, None, whole=False)
    body = await request.read() if request.body_exists else None
    facts = request_facts(request, app[config_key].key_header, body)
    if facts.route == routes.PAY.name:
        await peek_payment(request, facts)
    try:
        resp = await _through_faults(app, request, chaos, facts, body)
    except GatewayError as err:
        if isinstance(err, Shed):
            chaos.shed(facts)
        if facts.fault_ids:  # an injected refusal still says which fault made it
            resp = error_response(err, request[REQUEST_ID])
            resp.headers[FAULT_HEADER] = ",".join(facts.fault_ids)
            return resp
        raise
    return await shape(request, chaos, facts, resp)


async def _through_faults(
    app: web.Application,
    request: web.Request,
    chaos: Chaos,
    facts: RequestFacts,
    body: bytes | None,
) -> web.StreamResponse:
    try:
        await chaos.edge(facts)
        if facts.route == routes.PAY.name:
            code = await chaos.decide(facts)
            if code is not None:
                raise GatewayError(code, detail="(injected)")
        async with app[admission_key].slot():
            hang_s = chaos.hang_s(facts) if facts.route == routes.PAY.name else None
            if hang_s is not None:
                await forward.slowly(app, request, body, hang_s)
            return await forward.exchange(app, request, body, whole=True)
    except Answer as answer:
        return answered(answer)


async def healthz(request: web.Request) -> web.Response:
    config = request.app[config_key]
    body = {"status": "ok", "role": "fault_proxy", "upstream": config.upstream}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def metrics(request: web.Request) -> web.Response:
    resp = web.Response(body=request.app[metrics_key].exposition())
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return resp


async def faults_ctx(app: web.Application) -> AsyncIterator[None]:
    """The upstream's connection pool, the fault engine and admission; on exit every held
    request is let go and the pool's connections closed."""
    config = app[config_key]
    admission = Admission(config.profile.capacity)
    engine = FaultEngine(
        inflight=lambda: admission.inflight + admission.queued, now_iso=utc_now_iso
    )
    chaos = Chaos(engine, Gateway(profile=config.profile))
    admission.set_limits(chaos.limits)
    registry = app[metrics_key].registry
    registry.register(AdmissionCollector(admission))
    registry.register(FaultCollector(engine))
    pool = forward.upstream(config)
    app[admission_key] = admission
    app[chaos_key] = chaos
    app[upstream_key] = pool
    lane = Lane(config, app[metrics_key].http, engine, admission)
    registry.register(LaneCollector(lane))
    app[lane_key] = lane
    channels = tuple(
        c.name for c in config.profile.channels
    )  # a target's channel is never met here
    app[chaos_api.host_key] = chaos_api.FaultHost(engine, channels, kinds.refusal)
    try:
        yield
    finally:
        engine.clear()
        await chaos.close()
        pool.close()
        lane.close()


def create_app(config: ProxyConfig) -> web.Application:
    app = web.Application(middlewares=[observe], client_max_size=config.max_body_bytes)
    app[config_key] = config
    app[metrics_key] = Metrics.create()
    app.cleanup_ctx.append(faults_ctx)
    app.router.add_route(routes.HEALTHZ.method, routes.HEALTHZ.path, healthz)
    app.router.add_route(routes.METRICS.method, routes.METRICS.path, metrics)
    chaos_api.setup(app)
    # Under ProxyRunner (the command line) a proxied request never reaches this route; under
    # any other runner it does, the slower way.
    app.router.add_route("*", "/{tail:.*}", _routed)
    return app


async def _routed(request: web.Request) -> web.StreamResponse:
    return await proxied(request.app, request)


class ProxyRunner(web.AppRunner):
    """The application's runner, whose server starts every connection in the fast lane
    (fault_proxy/lane.py) and hands it to aiohttp's request handler, wrapped, when a request
    needs more than forwarding: the proxy's own paths go through the application (router,
    middleware), every other request straight to `proxied`, as observed as the rest. The
    router and the middleware chain cost about a third of a small request's CPU in aiohttp's
    server, and a proxied request needs neither."""

    async def _make_server(self) -> Server:
        base = await super()._make_server()
        app, routed = self.app, base.request_handler

        async def dispatch(request: BaseRequest) -> web.StreamResponse:
            assert isinstance(request, web.Request)  # the application's request factory
            if own(request.path):
                return await routed(request)
            return await observed(app, request, partial(proxied, app))

        return ProxyServer(
            app[lane_key],
            dispatch,
            request_factory=base.request_factory,
            handler_cancellation=base.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **base._kwargs,  # the runner's settings (parser limits, logger), as aiohttp made them
        )


class ProxyServer(Server):
    """aiohttp's low-level server, whose protocol for a new connection is the fast lane's;
    a connection handed over gets aiohttp's own, with the bytes read so far."""

    def __init__(self, lane: Lane, handler: _RequestHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._lane = lane
        self._fronts: weakref.WeakSet[FrontConn] = weakref.WeakSet()
        self._sweep: asyncio.TimerHandle | None = None

    def __call__(self) -> FrontConn:  # type: ignore[override]
        front = FrontConn(self._lane, self._hand_over)
        self._fronts.add(front)
        if self._sweep is None:
            self._sweep = asyncio.get_running_loop().call_later(SWEEP_S, self._close_idle)
        return front

    def _close_idle(self) -> None:
        """Keep-alive's end in the lane, as aiohttp's server ends its own idle connections."""
        moment = time.monotonic() - KEEPALIVE_S
        for front in list(self._fronts):
            front.close_if_idle_since(moment)
        self._sweep = asyncio.get_running_loop().call_later(SWEEP_S, self._close_idle)

    def _hand_over(self, front: FrontConn) -> None:
        transport, front.transport = front.transport, None
        self._fronts.discard(front)
        if transport is None:
            return
        self._lane.handed_over += 1
        handler = Server.__call__(self)
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if front.writing_paused:
            handler.pause_writing()
        data, front.buf = front.buf, b""
        if data:
            handler.data_received(data)
        if front.eof:
            handler.eof_received()
        if front.reading_paused:
            transport.resume_reading()

    def pre_shutdown(self) -> None:
        super().pre_shutdown()
        if self._sweep is not None:
            self._sweep.cancel()
        for front in list(self._fronts):
            front.close_when_idle()

    async def shutdown(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or 0)  # one timeout for both kinds
        await super().shutdown(timeout)
        while time.monotonic() < deadline and any(f.exchange for f in self._fronts):
            await asyncio.sleep(0.02)  # an answer under way is let finish, up to the timeout
        for front in list(self._fronts):
            front.abort()

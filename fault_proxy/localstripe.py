"""`python -m fault_proxy.localstripe [--port 0]`: localstripe, a stateful fake Stripe server
(third-party, PyPI `localstripe`, in the dev extras), served on loopback for the proxy's worked
example and the Stripe-shaped client adapter's tests.

Its own command binds every interface on a fixed port and pickles its whole store to
/tmp/localstripe.pickle after every write. Here it listens on 127.0.0.1 (port 0: a free one,
announced like paystorm's servers), answers /healthz so it can be waited on, keeps its store
in memory only (each server its own, and a write costs no more as the store grows), and stops
with its starter (the lifeline) or on SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from collections.abc import Awaitable, Callable

from aiohttp import web

from contract import routes, serving

PROG = "localstripe"


@web.middleware
async def _healthz(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.path == routes.HEALTHZ.path:
        return web.json_response({"status": "ok", "role": "localstripe"})
    return await handler(request)


def app() -> web.Application:
    with warnings.catch_warnings():
        # localstripe registers one plain function as a handler, which aiohttp deprecates.
        warnings.simplefilter("ignore", DeprecationWarning)
        from localstripe import server  # type: ignore[import-untyped]
    server.store.dump_to_disk = lambda: None  # memory only: see the module's docstring
    application: web.Application = server.app
    application.middlewares.insert(0, _healthz)
    return application


async def serve(port: int) -> int:
    runner = web.AppRunner(app(), access_log=None)
    await runner.setup()
    return await serving.serve_until_stopped(
        runner,
        "127.0.0.1",
        port,
        prog=PROG,
        announce=f"{PROG} listening on {{url}}",
        exposed="can reach it",
        stopping="closing",
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fault_proxy.localstripe", description=__doc__)
    p.add_argument("--port", type=int, default=8420, help="TCP port; 0 picks a free one")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with serving.loop_runner() as runner:
        return runner.run(serve(args.port))


if __name__ == "__main__":
    raise SystemExit(main())

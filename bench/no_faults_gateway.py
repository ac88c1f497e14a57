"""The gateway with its fault stages made no-ops: the baseline for the fault engine's idle
cost. Everything else is the real `python -m mock_gateway` (same command line, uvloop, ledger,
admission, channels, metrics); only this process is patched.

    python -m bench.no_faults_gateway [--no-peek] [mock_gateway options …]

`--no-peek` also skips the middleware's read of a payment's body, done only so faults at the
edge can target its user or merchant.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from aiohttp import web

import mock_gateway.app
from faults import NO_SLOWDOWN, Chaos, Limits, RequestFacts, Reshape, Rule, Slowdown
from mock_gateway import cli


class IdleChaos(Chaos):
    """Every stage answers "no fault" at once, without asking the kinds."""

    async def edge(self, facts: RequestFacts) -> None:
        return None

    async def decide(self, facts: RequestFacts, rules: Sequence[Rule] = ()) -> str | None:
        return None

    def hang_s(self, facts: RequestFacts) -> float | None:
        return None

    def channel(self, facts: RequestFacts, channel: str) -> Slowdown:
        return NO_SLOWDOWN

    def commit_late(self, facts: RequestFacts) -> None:
        return None

    def respond(self, facts: RequestFacts) -> Reshape | None:
        return None

    def limits(self) -> Limits:
        return self.gateway.profile.capacity.max_inflight, self.gateway.profile.capacity.queue

    def shed(self, facts: RequestFacts) -> None:
        return None


async def _no_peek(request: web.Request, facts: RequestFacts) -> None:
    return None


def main(argv: list[str]) -> int:
    if "--no-peek" in argv:
        argv = [a for a in argv if a != "--no-peek"]
        mock_gateway.app.peek_payment = _no_peek  # type: ignore[attr-defined]
    # ledger_ctx looks the class up in its module when the app starts.
    mock_gateway.app.Chaos = IdleChaos  # type: ignore[attr-defined]
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

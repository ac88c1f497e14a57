"""The gateway with its fault stages made no-ops: the baseline for the fault engine's idle
cost. Everything else is the real `python -m mock_gateway` (same command line, uvloop, ledger,
admission, channels, metrics); only this process is patched.

    python -m bench.no_faults_gateway [--no-peek] [mock_gateway options …]

`--no-peek` also skips the middleware's read of a payment's body, done only so faults at the
edge can target its user or merchant.
"""

from __future__ import annotations

import sys

from aiohttp import web

import mock_gateway.app
from mock_gateway import cli
from mock_gateway.channels import Slowdown
from mock_gateway.chaos import Chaos
from mock_gateway.faults import RequestFacts
from mock_gateway.faults.network import Network

_NO_SLOWDOWN = Slowdown()


class IdleChaos(Chaos):
    """Every stage answers "no fault" at once, without asking the engine. (The profile's own
    risk false-positive rate is 0 in the bench profile, so skipping it changes nothing.)"""

    async def edge(self, facts: RequestFacts) -> None:
        return None

    def rate_limit(self, facts: RequestFacts) -> None:
        return None

    def capacity_limits(self) -> tuple[int | None, int]:
        return self.profile.capacity.max_inflight, self.profile.capacity.queue

    def shed(self, facts: RequestFacts) -> None:
        return None

    def merchant_refuses(self, facts: RequestFacts) -> bool:
        return False

    def risk_declines(self, facts: RequestFacts) -> bool:
        return False

    def pay_timeout_s(self, facts: RequestFacts) -> float | None:
        return None

    def channel(self, facts: RequestFacts, channel: str) -> Slowdown:
        return _NO_SLOWDOWN

    def loses_response(self, facts: RequestFacts) -> bool:
        return False

    def network(self, facts: RequestFacts) -> Network | None:
        return None


async def _no_peek(request: web.Request, facts: RequestFacts) -> None:
    return None


def main(argv: list[str]) -> int:
    if "--no-peek" in argv:
        argv = [a for a in argv if a != "--no-peek"]
        mock_gateway.app._peek_payment = _no_peek
    # ledger_ctx looks the class up in its module when the app starts.
    mock_gateway.app.Chaos = IdleChaos  # type: ignore[attr-defined]
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

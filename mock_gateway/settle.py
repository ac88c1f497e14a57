"""The gateway's own resolution of uncertain payments: nothing stays PENDING for long."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from contract.codes import GatewayError
from mock_gateway.payments import PaymentService

log = logging.getLogger("mock_gateway.settle")
POLL_S = 0.5


async def settle_forever(service: PaymentService, delay_s: float, success_share: float) -> None:
    """Every POLL_S (or sooner), settle PENDING payments older than `delay_s` (also those a previous
    process left behind: they are read from the ledger, not from memory)."""
    # Short delays are polled more often, so a payment settles near its delay, not POLL_S late.
    poll_s = min(POLL_S, max(delay_s / 2, 0.05))
    while True:
        await asyncio.sleep(poll_s)
        cutoff = datetime.now(UTC) - timedelta(seconds=delay_s)
        cutoff_iso = cutoff.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for payment_id in service.due_pending(cutoff_iso):
            try:
                await service.settle(payment_id, success_share)
            except GatewayError as err:  # the ledger is stalled: try again next round
                log.warning("could not settle %s yet: %s", payment_id, err.code)
                break

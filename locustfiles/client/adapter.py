"""The client adapter: how the checkout flow (show credit, pay under an idempotency key,
query, reverse, refund) is said to a payment API, and how its answers read as paystorm's codes.

The people (shoppers, POS terminals, refunders) and the client's policy (retries, resolving,
reversals) speak the mock gateway's contract: a `Request` on a route of contract/routes.py
with the mock's bodies. An adapter turns each such request into the requests of another API,
and their answers back into an `Exchange` in the mock's terms (its codes, a body with
`payment_id` and `status`), so the policy and the report need no change. The base class is the
mock gateway's own API. A scenario names one as `client: {adapter: package.module:Name}`.

An adapter imports no Locust or gevent (it runs under the client seam's fake transports in
tests, and the runner loads it to check its name and to list what the API captured).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from contract.lines import LedgerLine
from locustfiles.client.classify import Exchange, classify
from locustfiles.client.transport import Answer, Request, Transport


class AdapterError(ValueError):
    """An adapter that cannot be loaded; the message is one line."""


class Adapter:
    """The mock gateway's own API: requests as they are, answers read by `classify`."""

    def exchange(self, link: Transport, request: Request) -> Exchange:
        """One step of the checkout flow, sent over `link` (within `request.deadline_s`)."""
        return classify(link.send(request))

    def read(self, answer: Answer) -> Exchange:
        """One raw answer of this API as a code, for Locust's request statistics."""
        return classify(answer)

    def captured(self, base_url: str, key_prefix: str) -> Iterator[LedgerLine] | None:
        """What the API says it took, as ledger lines (the run's payments only: keys that
        start with `key_prefix`), for the cross-check with what the people were told; None
        when this API cannot list it (the mock gateway's export is read by the runner)."""
        return None


MOCK = Adapter()


def load(name: str | None) -> Adapter:
    """The adapter a scenario names (`package.module:Name`, made with no arguments); the mock
    gateway's own when None. AdapterError says what is wrong, in one line."""
    if name is None:
        return MOCK
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AdapterError(f"client.adapter {name}: cannot import {module_name} ({exc})") from None
    found = getattr(module, attr, None)
    if not (isinstance(found, type) and issubclass(found, Adapter)):
        raise AdapterError(
            f"client.adapter {name}: expected a subclass of "
            f"locustfiles.client.adapter.Adapter named {attr} in {module_name}"
        )
    return found()

"""A run whose people speak another payment API through a client adapter (the scenario's
`client.adapter`): the adapter checked before anything starts, and the API's own record of
what it captured, for the cross-check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from contract.admin import AdminClient
from contract.lines import encode_line
from locustfiles.client.adapter import MOCK, Adapter, AdapterError, load
from paystorm.processes import SetupError
from scenarios.model import Scenario


def adapter_of(source: str, scenario: Scenario) -> Adapter:
    """The scenario's adapter, loaded as Locust will load it; a bad name is one line."""
    try:
        return load(scenario.client.adapter)
    except AdapterError as exc:
        raise SetupError(f"{source}: {exc}") from None


@contextmanager
def captured(adapter: Adapter, admin: AdminClient, prefix: str) -> Iterator[Iterator[bytes]]:
    """The API's payments of this run as ledger lines: the mock gateway's export, or what the
    adapter lists; LookupError when the adapter cannot list them (no cross-check then)."""
    if adapter is MOCK:
        with admin.export(prefix) as rows:
            yield rows
        return
    listed = adapter.captured(admin.base, prefix)
    if listed is None:
        raise LookupError(f"{type(adapter).__name__} cannot list what the API captured")
    yield (encode_line(row) for row in listed)

"""The gateway tests' fixtures (an in-process gateway on an ephemeral port, gateway
processes), for each kind's own test against a real gateway."""

from tests.mock_gateway.conftest import (  # noqa: F401  (pytest finds fixtures by name)
    api,
    client,
    db_path,
    gateway_config,
    gateways,
    http,
    patient_api,
    start_api,
)

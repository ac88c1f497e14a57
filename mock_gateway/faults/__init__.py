"""Injectable faults: one module per family registers its params with `spec.REGISTRY`."""

from mock_gateway.faults import (  # noqa: F401  (each import registers its kind)
    capacity,
    channel_outage,
    db_stall,
    error,
    latency,
    merchant_unsupported,
    network,
    rate_limit,
    risk_strict,
    timeout,
)
from mock_gateway.faults.engine import Fault, FaultEngine, RequestFacts
from mock_gateway.faults.spec import REGISTRY, FaultSpec, FaultSpecError, parse_fault

__all__ = [
    "REGISTRY",
    "Fault",
    "FaultEngine",
    "FaultSpec",
    "FaultSpecError",
    "RequestFacts",
    "parse_fault",
]

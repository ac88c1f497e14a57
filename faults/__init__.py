"""Injectable faults, one module per kind under faults/kinds/ (params, the stages where it
acts, an example), the engine that schedules and targets them, and the chaos core that asks
the kinds at each stage of a request. Below the gateway in the layers: it imports only
contract/, and the gateway implements the small interfaces of faults/ports.py."""

from faults import kinds as _kinds  # noqa: F401  (importing it registers every kind)
from faults.chaos import Chaos
from faults.engine import ACTIVE, EXPIRED, SCHEDULED, Active, Fault, FaultEngine, draw
from faults.kind import REGISTRY, Kind, Params, every_kind, register
from faults.parse import parse_fault
from faults.ports import (
    APPROVED,
    NO_SLOWDOWN,
    RISK_RULE,
    Answer,
    Dropped,
    Gateway,
    Limits,
    RequestFacts,
    Reshape,
    Rule,
    Slowdown,
    Verdict,
)
from faults.schema import KindSchemas, kind_schemas
from faults.spec import FaultSpec, FaultSpecError, FaultTarget

__all__ = [
    "ACTIVE",
    "APPROVED",
    "EXPIRED",
    "NO_SLOWDOWN",
    "REGISTRY",
    "RISK_RULE",
    "SCHEDULED",
    "Active",
    "Answer",
    "Chaos",
    "Dropped",
    "Fault",
    "FaultEngine",
    "FaultSpec",
    "FaultSpecError",
    "FaultTarget",
    "Gateway",
    "Kind",
    "KindSchemas",
    "Limits",
    "Params",
    "RequestFacts",
    "Reshape",
    "Rule",
    "Slowdown",
    "Verdict",
    "draw",
    "every_kind",
    "kind_schemas",
    "parse_fault",
    "register",
]

"""A fault kind: its params, the stages where it acts, an example; one module per kind under
faults/kinds/ (like Toxiproxy's toxics/), each registering itself with `@register`.

A stage is a hook method with a no-op default; the chaos core (faults/chaos.py) calls a
kind's hook only while a fault of that kind is active, with an `Active` view of them. The
hooks, along a request's pipeline:

- `edge`: before the request is handled (may wait, or raise the GatewayError to answer);
- `decide`: a new payment's decision, after the merchant and account checks (`order`
  against `ports.RISK_RULE` places it before or after the gateway's own risk control);
- `hang`: a payment attempt on its way to the channels (or a replay on its way back);
- `channel`: one call to one channel;
- `commit_late`: a payment's commit outlasted the gateway's patience (DB_TIMEOUT);
- `respond`: the handled request's answer on its way back;
- `limits` and `shed`: admission's limits, and a request they refused;
- `activate` and `deactivate`: a fault's window opens and closes (background work).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, ClassVar, Generic, TypeVar

import msgspec

from contract.validate import InputError, convert
from faults.engine import Active, Fault
from faults.ports import Gateway, Limits, RequestFacts, Reshape, Slowdown, Verdict
from faults.spec import FaultSpecError


class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Base of every kind's params: frozen, and an unknown field is refused."""


P = TypeVar("P", bound=Params)


class Kind(Generic[P]):
    name: ClassVar[str]
    params_type: type[P]
    order: ClassVar[int]
    """Where the kind sits along a request's pipeline (edge → decision → channel → commit →
    response); kinds acting at the same stage act in this order."""
    example: ClassVar[dict[str, Any]]
    """A fault of this kind as the chaos API takes it, without `kind`: the web UI's chaos
    panel starts its form from it, and docs/faults.md shows it."""

    rules: ClassVar[dict[str, Any]] = {}
    """What `check` enforces between fields, as JSON Schema keywords added to the params'
    schema, so that the API document refuses what the kind refuses."""

    def parse(self, raw: Any) -> P:
        """The params from their JSON form; FaultSpecError names the first bad field."""
        try:
            params = convert(raw, self.params_type, prefix="params")
        except InputError as exc:
            raise FaultSpecError(exc.field, exc.reason) from None
        self.check(params)
        return params

    def check(self, params: P) -> None:
        """Rules between fields that their types cannot say; raises FaultSpecError."""

    def example_spec(self) -> dict[str, Any]:
        return {"kind": self.name, **self.example}

    # -- stages (no-ops unless a kind acts there) ---------------------------------------------

    async def edge(self, faults: Active[P], facts: RequestFacts) -> None:
        return None

    async def decide(self, faults: Active[P], facts: RequestFacts) -> Verdict | None:
        return None

    def hang(self, faults: Active[P], facts: RequestFacts) -> float | None:
        """Seconds this payment attempt hangs before 504 CHANNEL_TIMEOUT (None: it does not)."""
        return None

    def channel(self, faults: Active[P], facts: RequestFacts, channel: str) -> Slowdown | None:
        return None

    def commit_late(self, faults: Active[P], facts: RequestFacts) -> None:
        return None

    def respond(self, faults: Active[P], facts: RequestFacts) -> Reshape | None:
        return None

    def limits(self, faults: Active[P], limits: Limits) -> Limits:
        return limits

    def shed(self, faults: Active[P], facts: RequestFacts) -> None:
        return None

    def activate(self, fault: Fault[P], gateway: Gateway) -> Coroutine[Any, Any, None] | None:
        """Called as the fault's window opens; what it returns runs until the window closes."""
        return None

    def deactivate(self, fault: Fault[P]) -> None:
        return None

    def acts_at(self, stage: str) -> bool:
        return getattr(type(self), stage) is not getattr(Kind, stage)


REGISTRY: dict[str, Kind[Any]] = {}
"""Every kind by name, filled in as faults/kinds/ is imported."""

K = TypeVar("K", bound=Kind[Any])


def register(cls: type[K]) -> type[K]:
    kind = cls()
    if kind.name in REGISTRY:
        raise ValueError(f"two fault kinds named {kind.name!r}")
    REGISTRY[kind.name] = kind
    return cls


def every_kind() -> list[Kind[Any]]:
    """Every kind in pipeline order."""
    return sorted(REGISTRY.values(), key=lambda k: (k.order, k.name))

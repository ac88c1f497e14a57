"""The fault spec as JSON Schema, generated from the kinds: for the gateway's OpenAPI
document (each kind's params and example) and for anyone checking a spec before sending it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from faults.kind import every_kind
from faults.spec import FaultTarget

REF_TEMPLATE = "#/components/schemas/{name}"


@dataclass(frozen=True)
class KindSchemas:
    params: dict[str, dict[str, Any]]
    """Each kind's params schema (a $ref into `components`), by kind."""
    examples: dict[str, dict[str, Any]]
    """Each kind's example fault, a whole spec as the chaos API takes it, by kind."""
    target: dict[str, Any]
    """The `target` object's schema (a $ref into `components`)."""
    components: dict[str, dict[str, Any]]
    """The schemas the refs point to, by name: each kind's params struct, and `FaultTarget`."""


def kind_schemas(ref_template: str = REF_TEMPLATE) -> KindSchemas:
    """Every kind's params schema and example, in pipeline order."""
    every = every_kind()
    refs, components = msgspec.json.schema_components(
        [FaultTarget, *(k.params_type for k in every)], ref_template=ref_template
    )
    target, *params = refs
    return KindSchemas(
        params={k.name: ref for k, ref in zip(every, params, strict=True)},
        examples={k.name: k.example_spec() for k in every},
        target=target,
        components=components,
    )

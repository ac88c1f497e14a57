"""The fault spec as JSON Schema, generated from the kinds and from the parser's own types: for
the gateway's OpenAPI document (a union tagged by `kind`, each branch a kind's params, with
every kind's example) and for anyone checking a spec before sending it.

It is built from what `parse_fault` decodes with (its `Envelope` and each kind's params
Struct), and a kind's rules between fields come as JSON Schema too (`Kind.rules`), so a spec
fits the schema exactly when the chaos API accepts it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from faults.kind import Kind, every_kind
from faults.parse import Envelope
from faults.spec import FaultSpecError, FaultTarget

REF_TEMPLATE = "#/components/schemas/{name}"


@dataclass(frozen=True)
class KindSchemas:
    params: dict[str, dict[str, Any]]
    """Each kind's params schema (a $ref into `components`), by kind."""
    specs: dict[str, dict[str, Any]]
    """Each kind's `kind` and `params` (a $ref into `components`, `kind` its tag), by kind."""
    examples: dict[str, dict[str, Any]]
    """Each kind's example fault, a whole spec as the chaos API takes it, by kind."""
    target: dict[str, Any]
    """The `target` object's schema (a $ref into `components`)."""
    components: dict[str, dict[str, Any]]
    """The schemas the refs point to, by name: each kind's params Struct and branch, and
    `FaultTarget`."""
    envelope: dict[str, Any]
    """The fields every spec has beside its params (`kind`, `target`, `start_in_s`, …), as
    the parser's Envelope is decoded."""

    def union(self) -> dict[str, Any]:
        """Any fault spec: the envelope's fields, and one of the kinds' `kind` and `params`
        (OpenAPI's discriminator on `kind`), with every kind's example. The envelope is said
        once rather than in every branch: as strict, and a generator does not enumerate
        every kind's target over again."""
        return {
            **self.envelope,
            "oneOf": list(self.specs.values()),
            "discriminator": {
                "propertyName": "kind",
                "mapping": {name: ref["$ref"] for name, ref in self.specs.items()},
            },
            "examples": list(self.examples.values()),
        }


def spec_type(kind: Kind[Any]) -> type[msgspec.Struct]:
    """A kind's `kind` (its tag) and `params`: its params Struct, required when the kind
    refuses none, else it may be left out or null, as `parse_fault` takes it. The other
    fields are the envelope's, checked beside it (`KindSchemas.union`)."""
    params_type: Any = kind.params_type
    params = (
        ("params", params_type) if _needs_params(kind) else ("params", params_type | None, None)
    )
    name = "".join(part.title() for part in kind.name.split("_")) + "Fault"
    return msgspec.defstruct(name, [params], tag_field="kind", tag=kind.name, frozen=True)


def _needs_params(kind: Kind[Any]) -> bool:
    """Whether the kind refuses params left out (`parse_fault` reads them as `{}`)."""
    try:
        kind.parse({})
    except FaultSpecError:
        return True
    return False


def kind_schemas(ref_template: str = REF_TEMPLATE) -> KindSchemas:
    """Every kind's params schema, branch and example, in pipeline order, and the envelope."""
    every = every_kind()
    specs = [spec_type(k) for k in every]
    refs, components = msgspec.json.schema_components(
        [FaultTarget, Envelope, *(k.params_type for k in every), *specs],
        ref_template=ref_template,
    )
    target, _, *rest = refs
    envelope = components.pop(Envelope.__name__)
    envelope.pop("title", None)
    envelope.pop("description", None)
    envelope["properties"] = {
        **envelope["properties"],
        "kind": {"enum": [k.name for k in every]},
        "params": {"description": "the kind's params: see the branch for its kind"},
    }
    envelope["required"] = ["kind"]
    params, whole = rest[: len(every)], rest[len(every) :]
    for kind in every:
        if kind.rules:
            name = kind.params_type.__name__
            components[name] = {**components[name], **kind.rules}
    return KindSchemas(
        params={k.name: ref for k, ref in zip(every, params, strict=True)},
        specs={k.name: ref for k, ref in zip(every, whole, strict=True)},
        examples={k.name: k.example_spec() for k in every},
        target=target,
        components=components,
        envelope=envelope,
    )

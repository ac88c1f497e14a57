"""The chaos API's schemas in the OpenAPI document: a fault spec as the union of the kinds'
specs tagged by `kind` (from faults.kind_schemas, made from the parser's own types), and what
the chaos API answers."""

from __future__ import annotations

from typing import Any

from faults import REGISTRY, kind_schemas

Schema = dict[str, Any]
REF = "#/components/schemas/{name}"
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> Schema:
    return {"$ref": REF.format(name=name)}


def fault_schemas() -> dict[str, Schema]:
    """`FaultSpec` (what POST /_chaos/faults takes: one kind's spec, the kind's params and
    rules included, so that a spec fits it exactly when the gateway accepts it), the kinds'
    components it refers to, and the chaos API's answers."""
    kinds = kind_schemas(REF)
    return {
        **kinds.components,
        "FaultSpec": {
            "description": "A fault: `kind` says which, and which `params` it takes.",
            **kinds.union(),
        },
        "Fault": {
            "type": "object",
            "required": [
                *("id", "kind", "params", "target", "start_in_s", "duration_s", "seed"),
                *("state", "created_at", "started_at", "ended_at"),
            ],
            "properties": {
                "id": {"type": "string"},
                "kind": {"enum": sorted(REGISTRY)},
                "params": {"type": "object"},
                "target": {"type": "object"},
                "start_in_s": {"type": "number"},
                "duration_s": {"type": ["number", "null"]},
                "seed": {"type": "integer"},
                "state": {"enum": ["scheduled", "active", "expired"]},
                "created_at": {"type": "string", "format": "date-time"},
                "started_at": _TIME,
                "ended_at": _TIME,
            },
        },
        "FaultList": {
            "type": "object",
            "required": ["faults"],
            "properties": {"faults": {"type": "array", "items": _ref("Fault")}},
        },
        "Removed": {
            "type": "object",
            "required": ["removed"],
            "properties": {"removed": {"type": "integer"}},
        },
        "Events": {
            "type": "object",
            "required": ["events"],
            "properties": {
                "events": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "kind", "started_at", "ended_at"],
                        "properties": {
                            "id": {"type": "string"},
                            "kind": {"type": "string"},
                            "started_at": _TIME,
                            "ended_at": _TIME,
                            "started_unix": {"type": ["number", "null"]},
                            "ended_unix": {"type": ["number", "null"]},
                        },
                    },
                }
            },
        },
    }

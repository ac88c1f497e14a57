"""`error`: a catalogue error instead of handling the request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contract.codes import CATALOGUE
from mock_gateway.faults.spec import Params, Reader, register

# A success or a pending result is not an error to inject.
INJECTABLE = tuple(code for code, spec in CATALOGUE.items() if spec.http_status >= 400)


@register
@dataclass(frozen=True, slots=True)
class Error(Params):
    """`code` from the catalogue; `rate` the share of matching requests that get it."""

    KIND = "error"
    code: str
    rate: float = 1.0

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Error:
        r = Reader(raw, "params", ("code", "rate"))
        return cls(code=r.choice("code", INJECTABLE), rate=r.number("rate", 1.0, high=1.0))

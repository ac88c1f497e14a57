"""One validator for every input: typed msgspec Structs, and their refusals as one line.

Request bodies, scenario files, fault specs and gateway profiles are declared as Structs
(their limits in `Annotated[..., Meta(...)]`); `convert` and `decode_json` check a value
against one and turn msgspec's message into `field: expected …, got …`, the field named by
its dotted path (`load.stages[1].rate`) and the value as the input had it.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, TypeVar

import msgspec
from msgspec import inspect as mi

T = TypeVar("T")

_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}
_AT = r"(?: - at `\$(?P<path>[^`]*)`)?$"
_TYPE_GOT = re.compile(r"^Expected `(?P<exp>[^`]+)`, got `(?P<got>[^`]+)`" + _AT)
_BOUND = re.compile(r"^Expected `(?P<exp>[^`]+)` (?P<cond>.+?)" + _AT)
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`" + _AT)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`" + _AT)
_BAD_VALUE = re.compile(r"^Invalid (?:enum )?value (?P<got>.+?)" + _AT)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


class InputError(ValueError):
    """A value that does not fit its type; `field` is its dotted path ("" for the whole)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


def convert(raw: Any, kind: type[T], *, prefix: str = "") -> T:
    """`raw` (parsed YAML or JSON) as a `kind`; InputError names the first bad field."""
    try:
        return msgspec.convert(raw, kind, strict=True)
    except msgspec.ValidationError as exc:
        raise explain(str(exc), raw, kind, prefix) from None


def decode_json(body: bytes, kind: type[T], *, prefix: str = "") -> T:
    """A JSON body as a `kind`: one pass, parse and check. A whole number written with a
    fraction of zero (`100.0`) is taken where a whole number is expected, as JSON Schema,
    and so the OpenAPI document, counts it (see `whole_numbers`)."""
    try:
        return msgspec.json.decode(body, type=kind, strict=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
    except msgspec.DecodeError as exc:
        raise InputError(prefix, f"expected a JSON object ({exc})") from None
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raw = None
    whole = whole_numbers(raw)
    if whole is not raw:
        try:
            return msgspec.convert(whole, kind, strict=True)
        except msgspec.ValidationError as exc:
            message = str(exc)
    raise explain(message, raw, kind, prefix)


EXACT = 2**53


def whole_numbers(raw: Any) -> Any:
    """`raw` with every float that is a whole number (`100.0`, `1e3`) as an int, or `raw`
    itself when it has none. JSON has one number type and JSON Schema counts 100.0 as an
    integer, so a JSON input means 100 by it; a fraction (`100.5`) is still refused where a
    whole number is expected, and a float field takes an int as it is."""
    if isinstance(raw, float):
        # Past 2**53 a float is not exact: such a number was not written as this integer.
        return int(raw) if raw.is_integer() and abs(raw) <= EXACT else raw
    if isinstance(raw, dict):
        items = {key: whole_numbers(value) for key, value in raw.items()}
        changed = any(items[key] is not value for key, value in raw.items())
        return items if changed else raw
    if isinstance(raw, list):
        values = [whole_numbers(value) for value in raw]
        changed = any(new is not old for new, old in zip(values, raw, strict=True))
        return values if changed else raw
    return raw


def explain(message: str, raw: Any, kind: Any, prefix: str = "") -> InputError:
    """msgspec's message about `raw` as an InputError in paystorm's words."""
    for pattern in (_TYPE_GOT, _BOUND, _UNKNOWN, _MISSING, _BAD_VALUE):
        match = pattern.match(message)
        if match:
            break
    else:
        return InputError(prefix, message)
    path = match.group("path") or ""
    steps = _steps(path)
    if pattern is _UNKNOWN:
        steps.append(match.group("name"))
        return InputError(_dotted(prefix, steps), "unknown field")
    if pattern is _MISSING:
        steps.append(match.group("name"))
        return InputError(_dotted(prefix, steps), "required")
    field = _dotted(prefix, steps)
    got = _value_at(raw, steps)
    shown = _show(got)
    if pattern is _BAD_VALUE:
        options = _options_at(kind, steps)
        expected = f"one of {', '.join(options)}" if options else "a known value"
        return InputError(field, f"expected {expected}, got {shown}")
    exp = _words(match.group("exp"))
    if pattern is _TYPE_GOT:
        return InputError(field, f"expected {exp}, got {shown}")
    return InputError(field, f"expected {exp} {_condition(match.group('cond'))}, got {shown}")


def _steps(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _STEP.findall(path)]


def _dotted(prefix: str, steps: list[str | int]) -> str:
    text = prefix
    for step in steps:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text = f"{text}.{step}" if text else step
    return text


def _value_at(raw: Any, steps: list[str | int]) -> Any:
    for step in steps:
        try:
            raw = raw[step]
        except (KeyError, IndexError, TypeError):
            return None
    return raw


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _words(exp: str) -> str:
    parts = [part.strip() for part in exp.split("|")]
    if len(parts) > 1:
        parts = [p for p in parts if p != "null"]  # an optional field: leaving it out is the null
    return " or ".join(_WORDS.get(part, part) for part in parts)


def _condition(cond: str) -> str:
    # msgspec: ">= 1", "<= 1.0", "of length <= 64", "matching regex '^…$'"
    return cond.replace("matching regex", "matching")


def _options_at(kind: Any, steps: list[str | int]) -> list[str]:
    """The allowed values at a path of `kind`, from its literal or its tagged union."""
    info: Any = _type_info(kind)
    for step in steps:
        info = _child(info, step)
        if info is None:
            return []
    for candidate in _alternatives(info):
        if isinstance(candidate, mi.LiteralType):
            return [str(v) for v in candidate.values]
        if isinstance(candidate, mi.EnumType):
            return [str(m.value) for m in candidate.cls]
    return []


@cache
def _type_info(kind: Any) -> Any:
    # Walking a Struct's type takes hundreds of microseconds: once per type, not per refusal.
    return mi.type_info(kind)


def _alternatives(info: Any) -> list[Any]:
    return list(info.types) if isinstance(info, mi.UnionType) else [info]


def _child(info: Any, step: str | int) -> Any:
    for candidate in _alternatives(info):
        if isinstance(step, int) and isinstance(candidate, mi.ListType | mi.VarTupleType):
            return candidate.item_type
        if isinstance(step, int) and isinstance(candidate, mi.TupleType):
            return candidate.item_types[step] if step < len(candidate.item_types) else None
        if isinstance(step, str) and isinstance(candidate, mi.StructType):
            if candidate.tag_field == step and candidate.tag is not None:
                return mi.LiteralType(values=tuple(_tags(info)))
            for field in candidate.fields:
                if field.encode_name == step:
                    return field.type
        if isinstance(step, str) and isinstance(candidate, mi.DictType):
            return candidate.value_type
    return None


def _tags(info: Any) -> list[Any]:
    return [c.tag for c in _alternatives(info) if isinstance(c, mi.StructType) and c.tag]

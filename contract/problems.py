"""What is wrong with an input, in `contract.validate`'s words, said fully enough to fix it.

`check` is `validate.convert` whose refusal of an unknown field lists the known ones, and
whose refusal of a missing one says what belongs there. `every_problem` finds each bad field
of an object, not only the first, so that one answer lists everything a caller must fix: it
is the slow path, run only once a fast decode has refused the input.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import msgspec
from msgspec import inspect as mi

from contract.validate import InputError, convert

T = TypeVar("T")

UNKNOWN = "unknown field"
REQUIRED = "required"
SHOWN = 40  # characters of a refused value quoted back: enough to recognise it


def check(raw: Any, kind: type[T], *, prefix: str = "") -> T:
    """`raw` as a `kind`; the InputError names the first bad field and what it expects."""
    try:
        return convert(raw, kind, prefix=prefix)
    except InputError as exc:
        raise clipped(reworded(exc, kind, prefix)) from None


def every_problem(raw: Any, kind: Any, prefix: str = "") -> list[InputError]:
    """Every bad field of `raw` against the Struct `kind`, nested Structs included; [] if
    `raw` fits."""
    fields = _fields(kind)
    if not isinstance(raw, dict) or fields is None:
        try:
            convert(raw, kind, prefix=prefix)
        except InputError as exc:
            return [clipped(reworded(exc, kind, prefix))]
        return []
    found = []
    for name, value in raw.items():
        where = _join(prefix, str(name))
        info = fields.get(name)
        if info is None:
            found.append(InputError(where, _known(fields)))
            continue
        nested = _struct(info.type)
        if nested is not None and isinstance(value, dict):
            found += every_problem(value, nested, where)
            continue
        try:
            convert(value, info.type, prefix=where)
        except InputError as exc:
            found.append(clipped(exc))
    found += [
        InputError(_join(prefix, name), f"expected {describe(info.type)} ({REQUIRED})")
        for name, info in fields.items()
        if info.required and name not in raw
    ]
    return found


def clipped(exc: InputError) -> InputError:
    """The refused value cut short: a 60 KiB string is quoted back as its first characters."""
    head, got, shown = exc.reason.rpartition(", got ")
    if not got or len(shown) <= SHOWN:
        return exc
    return InputError(exc.field, f"{head}{got}{shown[: SHOWN - 3]}...")


def reworded(exc: InputError, kind: Any, prefix: str = "") -> InputError:
    """`validate`'s bare "unknown field" and "required" with the fields known there, or what
    the missing one expects."""
    if exc.reason not in (UNKNOWN, REQUIRED):
        return exc
    inner = exc.field[len(prefix) :].lstrip(".") if exc.field.startswith(prefix) else exc.field
    *parents, name = inner.split(".")
    owner: Any = kind
    for step in parents:
        fields = _fields(owner)
        owner = _struct(fields[step].type) if fields and step in fields else None
    fields = _fields(owner)
    if fields is None:
        return exc
    if exc.reason == UNKNOWN:
        return InputError(exc.field, _known(fields))
    info = fields.get(name)
    if info is None:
        return exc
    return InputError(exc.field, f"expected {describe(info.type)} ({REQUIRED})")


@cache
def describe(kind: Any) -> str:
    """A type in words: `a whole number from 1 to 50000000`, `one of CNY`."""
    return _words(mi.type_info(kind))


def _words(info: Any) -> str:
    if isinstance(info, mi.Metadata):
        return _words(info.type)
    if isinstance(info, mi.UnionType):
        return " or ".join(_words(t) for t in info.types if not isinstance(t, mi.NoneType))
    if isinstance(info, mi.IntType | mi.FloatType):
        noun = "a whole number" if isinstance(info, mi.IntType) else "a number"
        return noun + _bounds(info.ge, info.le, info.gt, info.lt)
    if isinstance(info, mi.StrType):
        low, high = info.min_length, info.max_length
        if low is not None and high is not None:
            return f"a string of {low} to {high} characters"
        if high is not None:
            return f"a string of at most {high} characters"
        return "a string"
    if isinstance(info, mi.LiteralType):
        return "one of " + ", ".join(str(v) for v in info.values)
    if isinstance(info, mi.BoolType):
        return "true or false"
    if isinstance(info, mi.StructType | mi.DictType):
        return "an object"
    return "a value"


def _bounds(ge: Any, le: Any, gt: Any, lt: Any) -> str:
    if ge is not None and le is not None:
        return f" from {ge} to {le}"
    parts = [
        f"{op} {v}" for op, v in ((">=", ge), (">", gt), ("<=", le), ("<", lt)) if v is not None
    ]
    return " " + " and ".join(parts) if parts else ""


@cache
def _fields(kind: Any) -> dict[str, Any] | None:
    """A Struct's fields by their name in the input; None for anything else."""
    if not (isinstance(kind, type) and issubclass(kind, msgspec.Struct)):
        return None
    return {f.encode_name: f for f in msgspec.structs.fields(kind)}


@cache
def _struct(kind: Any) -> Any:
    """The Struct a field holds (its only Struct alternative), or None."""
    info = mi.type_info(kind)
    if isinstance(info, mi.Metadata):
        info = info.type
    options = info.types if isinstance(info, mi.UnionType) else (info,)
    found = [t.cls for t in options if isinstance(t, mi.StructType)]
    return found[0] if len(found) == 1 else None


def _known(fields: dict[str, Any]) -> str:
    return f"expected one of the known fields ({', '.join(fields)})"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name

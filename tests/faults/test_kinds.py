"""What every fault kind must have, whichever it is: a module of its own under faults/kinds/
that registers it, params that refuse what they do not know, a valid example that the docs
show, and a params schema its example fits. And the seam: nothing outside the kinds' modules
names a kind."""

from __future__ import annotations

import ast
import pkgutil
import re
from pathlib import Path
from typing import Any

import grimp
import pytest
import yaml
from jsonschema import Draft202012Validator

import faults.kinds
from contract.profile import CHANNEL_NAMES
from faults import REGISTRY, FaultSpecError, every_kind, kind_schemas, parse_fault

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "faults.md"
KINDS = sorted(REGISTRY)
# The chaos core and the payment service, with every hook point of the gateway.
SEAM = [
    *(p for p in (ROOT / "faults").glob("*.py")),
    *(ROOT / "mock_gateway" / name for name in ("app.py", "payments.py", "channels.py")),
    ROOT / "contract" / "limits.py",
    *(p for p in (ROOT / "fault_proxy").glob("*.py")),
]
ABOVE = ("mock_gateway", "scenarios", "locustfiles", "reports", "paystorm")


def test_each_module_of_faults_kinds_registers_the_kind_it_is_named_after() -> None:
    modules = {m.name for m in pkgutil.iter_modules(faults.kinds.__path__)}
    assert modules == set(REGISTRY)
    for name, kind in REGISTRY.items():
        assert type(kind).__module__ == f"faults.kinds.{name}"
        assert kind.name == name


def test_kinds_come_in_pipeline_order_without_ties() -> None:
    orders = [k.order for k in every_kind()]
    assert orders == sorted(orders)
    assert len(set(orders)) == len(orders)


@pytest.mark.parametrize("name", KINDS)
def test_the_example_is_a_valid_fault_of_its_kind(name: str) -> None:
    example = REGISTRY[name].example_spec()
    spec = parse_fault(example, CHANNEL_NAMES)
    assert spec.kind == name
    assert spec.raw_params == example.get("params", {})


@pytest.mark.parametrize("name", KINDS)
def test_an_unknown_param_is_refused_by_name(name: str) -> None:
    params = {**REGISTRY[name].example.get("params", {}), "colour": "red"}
    with pytest.raises(FaultSpecError) as info:
        parse_fault({"kind": name, "params": params}, CHANNEL_NAMES)
    assert (info.value.field, info.value.reason) == ("params.colour", "unknown field")


@pytest.mark.parametrize("name", KINDS)
def test_the_example_fits_the_params_schema(name: str) -> None:
    schemas = kind_schemas()
    validator = Draft202012Validator({"components": {"schemas": schemas.components}})
    Draft202012Validator.check_schema({"components": {"schemas": schemas.components}})
    example = schemas.examples[name]
    assert example == REGISTRY[name].example_spec()
    checked = Draft202012Validator(
        {"components": {"schemas": schemas.components}, **schemas.params[name]}
    )
    assert not list(checked.iter_errors(example.get("params", {})))
    target = Draft202012Validator({"components": {"schemas": schemas.components}, **schemas.target})
    assert not list(target.iter_errors(example.get("target", {})))
    assert not list(validator.iter_errors({}))


def _documented_examples() -> list[dict[str, Any]]:
    """The faults of docs/faults.md's "One of each" timeline."""
    text = DOCS.read_text(encoding="utf-8")
    after = text[text.index("One of each") :]
    block = re.search(r"```yaml\n# fault\n(.*?)```", after, re.S)
    assert block is not None, "docs/faults.md: no `# fault` block after 'One of each'"
    found = yaml.safe_load(block.group(1))
    assert isinstance(found, list)
    return found


def test_the_docs_show_every_kind_and_its_example() -> None:
    rows = re.findall(r"^\| `([a-z_]+)` \|", DOCS.read_text(encoding="utf-8"), re.M)
    assert set(REGISTRY) <= set(rows)
    documented = {f["kind"]: f for f in _documented_examples()}
    assert set(documented) == set(REGISTRY)
    for name, kind in REGISTRY.items():
        assert documented[name] == kind.example_spec(), name


def _named(path: Path) -> tuple[set[str], set[str], set[str]]:
    """A module's string constants (docstrings aside), identifiers, and imported modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    strings: set[str] = set()
    names: set[str] = set()
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                strings.add(node.value)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{a.name}" for a in node.names)
            names.update(a.name for a in node.names)
    return strings, names, imported


@pytest.mark.parametrize("path", SEAM, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_and_the_payment_service_name_no_kind(path: Path) -> None:
    """No kind's name as data, no kind's params type, no import of a kind's module. (Kind
    names are common words — a profile's capacity, a variable called timeout — so a bare
    word is no finding; what the code does with it is.)"""
    strings, names, imported = _named(path)
    assert not strings & set(REGISTRY)
    assert not names & {k.params_type.__name__ for k in REGISTRY.values()}
    assert not {m for m in imported if m.startswith("faults.kinds.")}


def test_faults_import_nothing_above_them() -> None:
    graph = grimp.build_graph("faults", "contract", *ABOVE)
    for module in graph.find_children("faults") | graph.find_descendants("faults"):
        above = {m for m in graph.find_modules_directly_imported_by(module) if m.startswith(ABOVE)}
        assert not above, (module, above)

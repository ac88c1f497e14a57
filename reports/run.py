"""Read a results folder into typed data: `load_run(path) -> Run`.

`outcomes.csv` or `run.json` must be there; every other file is optional and, when absent,
leaves its field None or empty. A file that is present but malformed raises `RunError` with
one line naming the file and what is wrong. Fields inside the JSON and YAML files follow the
same rule: absent means unknown, present with the wrong type is an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import yaml

from contract import runfolder
from reports.model import (
    Audit,
    AuditCheck,
    FaultWindow,
    GatewayMetrics,
    PaymentLog,
    PoolInfo,
    Reconcile,
    Run,
    RunError,
    RunInfo,
    Scenario,
    Second,
)
from reports.paylog import read_payments
from reports.tables import (
    read_gateway_metrics,
    read_locust_failures,
    read_locust_stats,
    read_outcomes,
)

__all__ = [
    "Audit",
    "AuditCheck",
    "FaultWindow",
    "GatewayMetrics",
    "PaymentLog",
    "Reconcile",
    "Run",
    "RunError",
    "RunInfo",
    "Scenario",
    "Second",
    "load_run",
]

# Objectives a scenario's `slo` may set, and the range each target must lie in.
SLO_RANGES: Mapping[str, tuple[float, float]] = {
    "success_rate": (0.0, 1.0),
    "p95_ms": (0.0, math.inf),
    "p99_ms": (0.0, math.inf),
    "ghost_charges": (0.0, math.inf),
    "dropped_rate": (0.0, 1.0),
    "had_credit_failure_rate": (0.0, 1.0),
}
# Populations that may have objectives of their own inside `slo`.
POPULATIONS = ("weak_network",)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise RunError(f"{path}: cannot read ({e.strerror})") from None


def _json(path: Path) -> Any:
    try:
        return orjson.loads(_read_bytes(path))
    except orjson.JSONDecodeError as e:
        raise RunError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None


def _field(
    path: Path, obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str = ""
) -> Any:
    """obj[key] if present and not null, checked against `kind`; None when absent or null."""
    value = obj.get(key)
    key = f"{where}{key}"
    if value is None:
        return None
    number = kind is float or (isinstance(kind, tuple) and float in kind)
    if number and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and kind is not bool:
        raise RunError(f"{path}: field {key!r} must not be true/false, got {value!r}")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise RunError(f"{path}: field {key!r} must be {names}, got {value!r}")
    return value


def _object(path: Path, value: Any, where: str = "") -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise RunError(f"{path}: {where or 'top level'} must be an object/mapping")
    return value


def read_run_info(path: Path) -> RunInfo:
    obj = _object(path, _json(path))
    return RunInfo(
        scenario=_field(path, obj, "scenario", str),
        started_at=_field(path, obj, "started_at", str),
        ended_at=_field(path, obj, "ended_at", str),
        duration_s=_field(path, obj, "duration_s", float),
        target=_field(path, obj, "target", str),
        stop_reason=_field(path, obj, "stop_reason", str),
        stop_detail=_field(path, obj, "stop_detail", str),
        locust_exit_code=_field(path, obj, "locust_exit_code", int),
        pool=_pool(path, obj.get("pool")),
    )


def _pool(path: Path, value: Any) -> PoolInfo | None:
    if value is None:
        return None
    obj = _object(path, value, "pool")
    users = _field(path, obj, "users", int, "pool.")
    needed = _field(path, obj, "needed", int, "pool.")
    explicit = _field(path, obj, "explicit", bool, "pool.")
    if users is None or needed is None:
        raise RunError(f"{path}: field 'pool' needs users and needed")
    return PoolInfo(users=users, needed=needed, explicit=bool(explicit))


def read_scenario(path: Path, fallback_name: str) -> Scenario:
    try:
        doc = yaml.safe_load(_read_bytes(path))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or type(e).__name__
        raise RunError(f"{path}: not valid YAML ({problem}{where})") from None
    obj = _object(path, doc)
    load = obj.get("load")
    load_model = _field(path, _object(path, load, "load"), "model", str) if load else None
    slo = _objectives(path, obj.get("slo") or {})
    return Scenario(
        name=_field(path, obj, "name", str) or fallback_name,
        description=_field(path, obj, "description", str) or "",
        duration_s=_field(path, obj, "duration_s", float),
        load_model=load_model,
        slo=slo,
    )


def _objectives(path: Path, doc: Any, population: str = "") -> dict[str, float]:
    """The objectives that are set, a population's own flattened under its name
    (`weak_network.p99_ms`)."""
    where = f"slo.{population}"
    slo: dict[str, float] = {}
    for key, value in _object(path, doc, where.rstrip(".")).items():
        if key in POPULATIONS and not population:
            if value is not None:
                slo.update(_objectives(path, value, f"{key}."))
            continue
        target = _field(path, doc, key, float, where)
        if target is None:
            continue
        low, high = SLO_RANGES.get(key, (-math.inf, math.inf))
        if not low <= target <= high:
            raise RunError(f"{path}: {where}{key} = {value!r} is outside [{low:g}, {high:g}]")
        slo[f"{population}{key}"] = target
    return slo


def read_faults(path: Path) -> tuple[FaultWindow, ...]:
    doc = _json(path)
    if not isinstance(doc, list):
        raise RunError(f"{path}: expected a JSON list of fault windows")
    windows = []
    for i, item in enumerate(doc):
        obj = _object(path, item, f"item {i}")
        started = _field(path, obj, "started_at_s", float)
        kind = _field(path, obj, "kind", str)
        if started is None or kind is None:
            raise RunError(f"{path}: item {i} needs 'kind' and 'started_at_s'")
        fault_id = _field(path, obj, "id", (str, int))
        windows.append(
            FaultWindow(
                id=str(fault_id if fault_id is not None else i),
                kind=kind,
                started_at_s=started,
                ended_at_s=_field(path, obj, "ended_at_s", float),
            )
        )
    return tuple(sorted(windows, key=lambda w: w.started_at_s))


def read_audit(path: Path) -> Audit:
    obj = _object(path, _json(path))
    ok = _field(path, obj, "ok", bool)
    if ok is None:
        raise RunError(f"{path}: missing field 'ok'")
    checks = []
    for name, check in _object(path, obj.get("checks") or {}, "checks").items():
        check = _object(path, check, f"checks.{name}")
        detail = check.get("detail")
        if not isinstance(detail, str):
            detail = "" if detail is None else orjson.dumps(detail).decode()
        checks.append(AuditCheck(str(name), _field(path, check, "ok", bool) is True, detail))
    return Audit(
        ok=ok,
        checks=tuple(checks),
        pending=_field(path, obj, "pending", int),
        error=_field(path, obj, "error", str),
    )


def read_reconcile(path: Path) -> Reconcile:
    """The cross-check, or only its `error` when the runner could not read the ledger."""
    obj = _object(path, _json(path))
    ghosts = _field(path, obj, "ghost_charges", int)
    error = _field(path, obj, "error", str)
    if ghosts is None and error is None:
        raise RunError(f"{path}: missing field 'ghost_charges'")
    examples = _field(path, obj, "examples", list) or []
    return Reconcile(
        ghost_charges=ghosts,
        lost_successes=_field(path, obj, "lost_successes", int),
        examples=tuple(examples),
        error=error,
        refunds=_field(path, obj, "refunds", int),
        lost_refunds=_field(path, obj, "lost_refunds", int),
        ghost_refunds=_field(path, obj, "ghost_refunds", int),
    )


def load_run(path: Path) -> Run:
    """Read the results folder at `path`; raise RunError when it is not a readable run."""
    if not path.is_dir():
        what = "not a directory" if path.exists() else "no such directory"
        raise RunError(f"{path}: {what}")
    outcomes, run_json = path / runfolder.OUTCOMES, path / runfolder.RUN
    if not outcomes.is_file() and not run_json.is_file():
        raise RunError(f"{path}: not a paystorm run (no outcomes.csv and no run.json)")

    def optional(name: str) -> Path | None:
        file = path / name
        return file if file.exists() else None

    info = read_run_info(run_json) if run_json.is_file() else None
    seconds, codes = read_outcomes(outcomes) if outcomes.is_file() else ((), ())
    scenario_file = optional(runfolder.SCENARIO)
    fallback_name = (info.scenario if info else None) or path.name
    scenario = read_scenario(scenario_file, fallback_name) if scenario_file else None
    faults_file, gateway_file = optional(runfolder.FAULTS), optional(runfolder.GATEWAY_METRICS)
    audit_file, reconcile_file = optional(runfolder.AUDIT), optional(runfolder.RECONCILE)
    faults = read_faults(faults_file) if faults_file else ()
    gateway = read_gateway_metrics(gateway_file) if gateway_file else None
    audit = read_audit(audit_file) if audit_file else None
    reconcile = read_reconcile(reconcile_file) if reconcile_file else None
    stats_file, failures_file = (
        optional(runfolder.LOCUST_STATS),
        optional(runfolder.LOCUST_FAILURES),
    )
    endpoints = read_locust_stats(stats_file) if stats_file else ()
    locust_errors = read_locust_failures(failures_file) if failures_file else ()
    # The payment log is the big one: read last, once every small file has parsed.
    payments_file = optional(runfolder.PAYMENTS)
    payments = read_payments(payments_file) if payments_file else None
    return Run(
        path=path,
        info=info,
        scenario=scenario,
        seconds=seconds,
        code_names=codes,
        # An empty log says nothing: the per-second rows are then the better source.
        payments=payments if payments is not None and payments.count else None,
        faults=faults,
        gateway=gateway,
        audit=audit,
        reconcile=reconcile,
        has_locust_html=(path / runfolder.LOCUST_HTML).is_file(),
        endpoints=endpoints,
        locust_errors=locust_errors,
    )

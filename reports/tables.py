"""Readers for the CSV files: `outcomes.csv`, `gateway_metrics.csv` and Locust's own."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

from contract.columns import (
    BREAKER_STATES,
    CHANNEL_FAMILIES,
    CODE_PREFIX,
    COUNT_COLUMNS,
    GATEWAY_COLUMNS,
    LATENCY_COLUMNS,
)
from reports.model import EndpointStats, GatewayMetrics, LocustError, RunError, Second


def _table(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and every (line number, row); a row whose width differs is an error."""
    rows: list[tuple[int, list[str]]] = []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise RunError(f"{path}: empty file, expected a header line")
            header = [h.strip() for h in header]
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise RunError(
                        f"{path} line {reader.line_num}: {len(row)} fields, header has "
                        f"{len(header)} (truncated or malformed row)"
                    )
                rows.append((reader.line_num, row))
    except UnicodeDecodeError as e:
        raise RunError(f"{path}: not UTF-8 text ({e.reason})") from None
    except csv.Error as e:
        raise RunError(f"{path}: malformed CSV ({e})") from None
    except OSError as e:
        raise RunError(f"{path}: cannot read ({e.strerror})") from None
    return header, rows


def _int(path: Path, line: int, column: str, text: str, *, empty_is_zero: bool = False) -> int:
    text = text.strip()
    if not text and empty_is_zero:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise RunError(
            f"{path} line {line}, column {column!r}: expected a whole number, got {text!r}"
        ) from None
    if value < 0:
        raise RunError(f"{path} line {line}, column {column!r}: negative count {value}")
    return value


def _float(path: Path, line: int, column: str, text: str) -> float | None:
    """A number, or None for an empty cell."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise RunError(
            f"{path} line {line}, column {column!r}: expected a number, got {text!r}"
        ) from None
    if not math.isfinite(value):
        raise RunError(f"{path} line {line}, column {column!r}: {text!r} is not finite")
    return value


def read_outcomes(path: Path) -> tuple[tuple[Second, ...], tuple[str, ...]]:
    """Read `outcomes.csv` into seconds sorted by time, and the failure codes its columns name.

    Unknown columns are ignored. An empty `code_*` cell counts as 0 (a code first seen late in
    the run may leave earlier rows blank); every other count must be a whole number.
    """
    header, rows = _table(path)
    missing = [c for c in (*COUNT_COLUMNS, *LATENCY_COLUMNS) if c not in header]
    if missing:
        raise RunError(f"{path}: missing column(s) {', '.join(missing)}")
    code_columns = [h for h in header if h.startswith(CODE_PREFIX)]
    codes = tuple(h[len(CODE_PREFIX) :] for h in code_columns)
    seconds: list[Second] = []
    for line, row in rows:
        cells = dict(zip(header, row, strict=True))
        counts = {c: _int(path, line, c, cells[c]) for c in COUNT_COLUMNS}
        if counts["had_credit_failed"] > counts["had_credit"]:
            raise RunError(
                f"{path} line {line}: had_credit_failed {counts['had_credit_failed']} exceeds "
                f"had_credit {counts['had_credit']}"
            )
        latency = {c: _float(path, line, c, cells[c]) for c in LATENCY_COLUMNS}
        by_code = {
            code: _int(
                path, line, CODE_PREFIX + code, cells[CODE_PREFIX + code], empty_is_zero=True
            )
            for code in codes
        }
        refunds = (
            _int(path, line, "refunds", cells["refunds"], empty_is_zero=True)
            if "refunds" in cells
            else 0
        )
        seconds.append(
            Second(
                **counts,
                refunds=refunds,
                p50_ms=latency["p50_ms"],
                p95_ms=latency["p95_ms"],
                p99_ms=latency["p99_ms"],
                codes={k: v for k, v in by_code.items() if v},
            )
        )
    seconds.sort(key=lambda s: s.time)
    for before, after in itertools.pairwise(seconds):
        if before.time == after.time:
            raise RunError(f"{path}: second {after.time} appears twice")
    return tuple(seconds), codes


def _channel_column(name: str) -> tuple[str, str] | None:
    """("breaker", "bank_a") for "breaker_bank_a"; None for any other column."""
    for family in CHANNEL_FAMILIES:
        if name.startswith(family + "_") and len(name) > len(family) + 1:
            return family, name[len(family) + 1 :]
    return None


def read_gateway_metrics(path: Path) -> GatewayMetrics:
    """Read `gateway_metrics.csv`; columns other than `time`, the known ones and the
    per-channel families (see contract.columns) are ignored."""
    header, rows = _table(path)
    if "time" not in header:
        raise RunError(f"{path}: missing column time")
    times: list[int] = []
    columns: dict[str, list[float | None]] = {
        name: [] for name in GATEWAY_COLUMNS if name in header
    }
    per_channel = {name: found for name in header if (found := _channel_column(name))}
    channel_values: dict[str, list[float | None]] = {name: [] for name in per_channel}
    for line, row in rows:
        cells = dict(zip(header, row, strict=True))
        times.append(_int(path, line, "time", cells["time"]))
        for name, values in columns.items():
            values.append(_float(path, line, name, cells[name]))
        for name, values in channel_values.items():
            value = _float(path, line, name, cells[name])
            if per_channel[name][0] == "breaker" and value not in (None, 0, 1, 2):
                states = ", ".join(f"{i} {s}" for i, s in enumerate(BREAKER_STATES))
                raise RunError(
                    f"{path} line {line}, column {name!r}: expected a breaker state ({states}), "
                    f"got {cells[name]!r}"
                )
            values.append(value)
    channels: dict[str, dict[str, tuple[float | None, ...]]] = {}
    for name, (family, channel) in per_channel.items():
        channels.setdefault(family, {})[channel] = tuple(channel_values[name])
    return GatewayMetrics(
        time=tuple(times),
        columns={k: tuple(v) for k, v in columns.items()},
        channels=channels,
    )


def _optional_float(path: Path, line: int, column: str, text: str) -> float | None:
    """Locust writes "N/A" for a percentile of an endpoint with no requests."""
    return None if text.strip() == "N/A" else _float(path, line, column, text)


def read_locust_stats(path: Path) -> tuple[EndpointStats, ...]:
    """Locust's `locust_stats.csv`: one row per endpoint, then "Aggregated"."""
    header, rows = _table(path)
    needed = ["Type", "Name", "Request Count", "Failure Count", "Median Response Time"]
    needed += ["95%", "99%", "Max Response Time", "Requests/s"]
    missing = [c for c in needed if c not in header]
    if missing:
        raise RunError(f"{path}: missing column(s) {', '.join(missing)}")
    stats = []
    for line, row in rows:
        c = dict(zip(header, row, strict=True))
        stats.append(
            EndpointStats(
                method=c["Type"],
                name=c["Name"],
                requests=_int(path, line, "Request Count", c["Request Count"]),
                failures=_int(path, line, "Failure Count", c["Failure Count"]),
                median_ms=_optional_float(
                    path, line, "Median Response Time", c["Median Response Time"]
                ),
                p95_ms=_optional_float(path, line, "95%", c["95%"]),
                p99_ms=_optional_float(path, line, "99%", c["99%"]),
                max_ms=_optional_float(path, line, "Max Response Time", c["Max Response Time"]),
                requests_per_s=_optional_float(path, line, "Requests/s", c["Requests/s"]),
            )
        )
    return tuple(stats)


def read_locust_failures(path: Path) -> tuple[LocustError, ...]:
    """Locust's `locust_failures.csv`, most frequent first."""
    header, rows = _table(path)
    missing = [c for c in ("Method", "Name", "Error", "Occurrences") if c not in header]
    if missing:
        raise RunError(f"{path}: missing column(s) {', '.join(missing)}")
    errors = []
    for line, row in rows:
        c = dict(zip(header, row, strict=True))
        occurrences = _int(path, line, "Occurrences", c["Occurrences"])
        errors.append(LocustError(c["Method"], c["Name"], c["Error"], occurrences))
    return tuple(sorted(errors, key=lambda e: -e.occurrences))

"""Readers for the per-second CSV files: `outcomes.csv` and `gateway_metrics.csv`."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

from reports.columns import CODE_PREFIX, COUNT_COLUMNS, LATENCY_COLUMNS
from reports.model import GatewayMetrics, RunError, Second

GATEWAY_COLUMNS = ("inflight", "requests_total", "payments_total", "rss_bytes")


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
        seconds.append(
            Second(
                **counts,
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


def read_gateway_metrics(path: Path) -> GatewayMetrics:
    """Read `gateway_metrics.csv`; columns other than `time` and the known ones are ignored."""
    header, rows = _table(path)
    if "time" not in header:
        raise RunError(f"{path}: missing column time")
    times: list[int] = []
    columns: dict[str, list[float | None]] = {
        name: [] for name in GATEWAY_COLUMNS if name in header
    }
    for line, row in rows:
        cells = dict(zip(header, row, strict=True))
        times.append(_int(path, line, "time", cells["time"]))
        for name, values in columns.items():
            values.append(_float(path, line, name, cells[name]))
    return GatewayMetrics(time=tuple(times), columns={k: tuple(v) for k, v in columns.items()})

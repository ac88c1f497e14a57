"""What a benchmark hands back, and `bench/results.md` made from it.

Each benchmark returns a `Section`: rows of (figure, measured, baseline, ratio, target,
verdict) plus free Markdown (per-run lines, tables, charts). `results.md` keeps one block per
benchmark between markers, so `python -m bench --only NAME` replaces that block and keeps
the others as they were measured."""

from __future__ import annotations

import os
import platform
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.md"
ORDER = (
    "latency_fault",
    "knee",
    "fault_cost",
    "gateway_cost",
    "proxy_cost",
    "arrival_rate",
    "hung_gateway",
    "overload",
    "schemathesis",
    "report_scale",
    "generator_cost",
    "scaling",
    "ui_cost",
    "capacity",
    "spread",
    "chaos_soak",
    "growth",
)
_BLOCK = re.compile(r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->\n", re.S)


@dataclass(frozen=True)
class Row:
    figure: str
    measured: str
    baseline: str
    ratio: float | None
    target: str
    passed: bool | None  # None: reported only, no target

    @property
    def verdict(self) -> str:
        return "—" if self.passed is None else "PASS" if self.passed else "MISS"


@dataclass
class Section:
    name: str
    title: str
    conditions: str
    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # Markdown paragraphs and tables
    wall_s: float = 0.0
    quick: bool = False

    def markdown(self) -> str:
        mode = "quick" if self.quick else "full"
        lines = [
            f"## {self.title}",
            "",
            f"*{_now()}, {mode} run, {self.wall_s:.0f} s.* {self.conditions}",
            "",
            "| figure | measured | baseline | ratio | target | verdict |",
            "| --- | --- | --- | ---: | --- | --- |",
        ]
        for r in self.rows:
            ratio = "—" if r.ratio is None else f"{r.ratio:.3f}"
            lines.append(
                f"| {r.figure} | {r.measured} | {r.baseline} | {ratio} | {r.target} "
                f"| **{r.verdict}** |"
            )
        for block in self.details:
            lines += ["", block]
        return "\n".join(lines) + "\n"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; columns after the first are right-aligned (they are figures)."""
    out = ["| " + " | ".join(header) + " |", "| --- " + "| ---: " * (len(header) - 1) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    return "\n".join(
        [
            "## Machine",
            "",
            f"- {os.cpu_count()} cores, {cpu_model()}, {platform.system()} {platform.release()}",
            f"- Python {platform.python_version()} ({sys.implementation.name}), aiohttp "
            f"{_version('aiohttp')}, uvloop {_version('uvloop')}, Locust {_version('locust')}, "
            f"orjson {_version('orjson')}",
            f"- {_now()}; the host is shared and noisy (±30 % run to run), so every figure is "
            "a median of several back-to-back runs or pairs, and comparisons are ratios.",
            "",
        ]
    )


HEADER = """# paystorm benchmarks

`make bench` (or `.venv/bin/python -m bench [--quick] [--only NAME]`) writes this file; each
section below is replaced only when its benchmark runs again. None of this is in `make test`.
"""


def write(sections: list[Section], path: Path = RESULTS, footer: str | None = None) -> None:
    """Replace the blocks of the sections given (and the wall-time line, when given); keep
    the other benchmarks' blocks."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    blocks = {m.group(1): m.group(2) for m in _BLOCK.finditer(old)}
    for s in sections:
        blocks[s.name] = s.markdown()
    if footer is not None:
        blocks["wall"] = footer
    parts = [HEADER, machine()]
    for name in ["wall", *ORDER, *sorted(set(blocks) - {"wall", *ORDER})]:
        if name in blocks:
            parts.append(f"<!-- bench:{name} -->\n{blocks[name]}<!-- /bench:{name} -->\n")
    path.write_text("\n".join(parts), encoding="utf-8")

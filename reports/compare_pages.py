"""compare.html (self-contained) and compare.md: the table of deltas first, then the charts."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence

from reports import wording
from reports.compare import Compared, DeltaRow, delta_text, value_text, verdict_of
from reports.pages import CSS
from reports.sections import table, text

CHART_TITLES = {
    "success_vs_load": "Success rate versus offered load",
    "timeline": "Timeline",
    "causes": "Had-credit failures by cause",
    "latency": "Latency and retries",
}


def _cell(row: DeltaRow, index: int) -> str:
    value = text(value_text(row.unit, row.values[index]))
    if index == 0:
        return value
    css = {"better": "ok", "worse": "bad"}.get(verdict_of(row, index) or "", "muted")
    return f'{value} <span class="{css}">{text(delta_text(row.unit, row.deltas[index]))}</span>'


def render_html(
    compared: Sequence[Compared], rows: Sequence[DeltaRow], charts_png: Mapping[str, bytes]
) -> str:
    title = " vs ".join(c.label for c in compared)
    head = [
        "measure",
        *(f"{text(c.label)}{' (baseline)' if i == 0 else ''}" for i, c in enumerate(compared)),
    ]
    body = [[text(r.name), *(_cell(r, i) for i in range(len(compared)))] for r in rows]
    verdicts = [
        [
            text(c.label),
            text(c.summary.get("description") or ""),
            f'<span class="{"ok" if c.summary.get("slo_passed") else "bad"}">'
            f"{text(wording.verdict(c.summary))}</span>",
            text(c.run.path),
        ]
        for c in compared
    ]
    sections = []
    for name, data in charts_png.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        label = CHART_TITLES.get(name, name)
        sections.append(f'<h2>{text(label)}</h2><img src="{uri}" alt="{text(label)} chart">')
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>paystorm compare · {text(title)}</title>",
            f"<style>{CSS}</style></head><body>",
            f"<h1>Compare: {text(title)}</h1>",
            table(["run", "what it is", "verdict", "folder"], verdicts),
            "<h2>Deltas against the baseline</h2>",
            table(head, body, numeric=len(compared)),
            '<p class="muted">Each delta is the run minus the baseline (the first run): rates in '
            'percentage points. <span class="ok">Green</span> is better, '
            '<span class="bad">red</span> worse. Fault windows are the seconds a fault '
            "overlapped.</p>",
            *sections,
            '<p class="muted">Built by <code>paystorm compare</code> from the runs\' folders.</p>',
            "</body></html>",
            "",
        ]
    )


def _md(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(compared: Sequence[Compared], rows: Sequence[DeltaRow]) -> str:
    title = " vs ".join(c.label for c in compared)
    lines = [f"## Compare: {_md(title)}", ""]
    lines += [f"- **{_md(c.label)}**: {_md(wording.verdict(c.summary))}" for c in compared]
    lines += ["", "| measure | " + " | ".join(_md(c.label) for c in compared) + " |"]
    lines.append("| --- |" + " ---: |" * len(compared))
    for r in rows:
        cells = [value_text(r.unit, r.values[0])]
        cells += [
            f"{value_text(r.unit, r.values[i])} ({delta_text(r.unit, r.deltas[i])})"
            for i in range(1, len(compared))
        ]
        lines.append(f"| {_md(r.name)} | " + " | ".join(_md(c) for c in cells) + " |")
    lines += [
        "",
        f"Deltas (in brackets) against {_md(compared[0].label)}; rates in percentage points.",
        "",
    ]
    return "\n".join(lines)

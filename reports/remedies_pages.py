"""The remedy advisor's documents, from its `remedies.json` alone: `remedies.md` and
`report.html` (self-contained; the comparison charts are `paystorm compare`'s, in
`compare/`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.pages import CSS
from reports.remedies import TABLE_HEAD, table_rows
from reports.sections import table, text


def headline(doc: Mapping[str, Any]) -> str:
    """The best remedy in one line, or why there is none."""
    remedies = [v for v in doc.get("variants") or () if v.get("remedy")]
    if not remedies:
        return "no remedy the lab can switch on addresses the top causes"
    best = remedies[0]
    back = best.get("won_back") or {}
    points, spread = back.get("points"), back.get("spread")
    if points is None:
        return f"{best['title']}: not measured"
    said = f"best: {best['title']}, {points:+.2f} success points"
    if spread is not None:
        said += f" (spread ± {spread:.2f})"
    return said


STARVED_MS = 1000.0  # a run whose generator began payments this late (p99) was starved


def starved(doc: Mapping[str, Any]) -> list[str]:
    """The variants some of whose runs began payments a second or more late: on a machine
    short of CPU their differences may be the machine's."""
    return [
        v["label"]
        for v in doc.get("variants") or ()
        if any(
            x >= STARVED_MS for x in (v["measures"].get("lateness_p99_ms") or {}).get("values", ())
        )
    ]


def _advice_lines(doc: Mapping[str, Any]) -> list[str]:
    lines = []
    for item in doc.get("advice") or ():
        names = [
            r["title"] + ("" if r["measurable"] else " (advice: not measured here)")
            for r in item["remedies"]
        ]
        count = (doc.get("causes") or {}).get(item["code"], 0)
        lines.append(
            f"{item['code']} ({count:,} over the baseline's repeats): "
            + (", ".join(names) or "no remedy in the catalogue")
        )
    return lines


def render_markdown(doc: Mapping[str, Any]) -> str:
    lines = [
        f"# Remedies: {doc.get('scenario')}",
        "",
        f"**{headline(doc)}**",
        "",
        f"Each variant ran {doc.get('repeats')} times on the same traffic (seed "
        f"{doc.get('seed')}: the same payments, people, amounts and fault timeline), one "
        "remedy switched on at a time. Values are the mean ± the standard deviation of the "
        "repeats; points won back are the remedy's mean success rate minus the baseline's.",
        "",
        "| " + " | ".join(TABLE_HEAD) + " |",
        "|" + " --- |" * len(TABLE_HEAD),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(doc)]
    late = starved(doc)
    if late:
        lines += [
            "",
            f"**The load generator was starved in some runs of: {', '.join(late)}** "
            "(payments began a second or more after their intended start): read their "
            "differences as partly the machine's.",
        ]
    lines += ["", "Top had-credit causes and what addresses them:", ""]
    lines += [f"- {line}" for line in _advice_lines(doc)]
    lines += ["", "The comparison charts: `compare/compare.html`.", ""]
    return "\n".join(lines)


def render_html(doc: Mapping[str, Any]) -> str:
    rows = [[text(cell) for cell in row] for row in table_rows(doc)]
    how = "".join(
        f"<li><b>{text(v['title'])}</b>: {text(v['how'])}</li>"
        for v in doc.get("variants") or ()
        if v.get("remedy")
    )
    advice = "".join(f"<li>{text(line)}</li>" for line in _advice_lines(doc))
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>paystorm remedies · {text(doc.get('scenario'))}</title>",
            f"<style>{CSS}</style></head><body>",
            f"<h1>Remedies: {text(doc.get('scenario'))}</h1>",
            f'<p class="lede">{text(headline(doc))}</p>',
            table(TABLE_HEAD, rows, numeric=len(TABLE_HEAD) - 1),
            f'<p class="muted">{doc.get("repeats")} repeats of each variant on the same traffic '
            f"(seed {text(doc.get('seed'))}); mean ± standard deviation of the repeats. A "
            "remedy whose points won back are within their spread has not shown an effect.</p>",
            f'<p class="bad">The load generator was starved in some runs of: '
            f"{text(', '.join(starved(doc)))} (payments began a second or more late): their "
            "differences may be partly the machine's.</p>"
            if starved(doc)
            else "",
            f"<h2>What each remedy switched on</h2><ul>{how}</ul>" if how else "",
            f"<h2>Top causes and their remedies</h2><ul>{advice}</ul>",
            '<p><a href="compare/compare.html">The comparison charts</a> (paystorm compare, '
            "the first repeat of each variant).</p>",
            "</body></html>",
            "",
        ]
    )

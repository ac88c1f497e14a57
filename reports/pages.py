"""The report's documents: report.html (self-contained), summary.md and slo.junit.xml."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from reports import wording
from reports.model import Run
from reports.sections import sections, text

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  color: #1d2329; max-width: 1180px; margin: 0 auto; padding: 0 20px 40px; }
.verdict { margin: 0 -20px 18px; padding: 16px 20px; color: #fff; font-size: 1.5em;
  font-weight: 650; }
.verdict.pass { background: #1f7a3a; } .verdict.fail { background: #b3261e; }
.verdict small { display: block; font-size: 0.55em; font-weight: 400; opacity: 0.95; }
h1 { font-size: 1.4em; margin: 0.2em 0; } h2 { font-size: 1.15em; margin-top: 1.8em;
  border-bottom: 1px solid #d5dae0; padding-bottom: 4px; }
.lede { color: #4a5560; margin-top: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px; }
.card { border: 1px solid #d5dae0; border-radius: 6px; padding: 10px 12px; }
.card .label { color: #4a5560; font-size: 0.85em; text-transform: uppercase; }
.card .value { font-size: 1.6em; font-weight: 650; }
.card .detail { color: #4a5560; font-size: 0.85em; }
img { max-width: 100%; height: auto; border: 1px solid #e3e7eb; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { text-align: left; padding: 4px 12px 4px 0; border-bottom: 1px solid #e3e7eb; }
td.num, th.num { text-align: right; padding-right: 16px; font-variant-numeric: tabular-nums; }
.ok { color: #1f7a3a; font-weight: 600; } .bad { color: #b3261e; font-weight: 600; }
.muted { color: #4a5560; }
"""


def _verdict_html(summary: Mapping[str, Any]) -> str:
    failed = wording.failed_objectives(summary)
    broken = wording.self_check_failures(summary)
    details = "".join(f"<small>{text(line)}</small>" for line in broken)
    details += "".join(f"<small>{text(wording.objective_line(o))}</small>" for o in failed)
    if summary.get("generator"):
        details += f"<small>{text(summary['generator'])}</small>"
    if summary.get("stop_reason") not in (None, "completed"):
        why = f": {summary['stop_detail']}" if summary.get("stop_detail") else ""
        details += f"<small>run stopped early ({text(summary['stop_reason'])}{text(why)})</small>"
    css = "fail" if failed or broken else "pass"
    return f'<div class="verdict {css}">{text(wording.verdict(summary))}{details}</div>'


def render_html(run: Run, summary: Mapping[str, Any], charts_png: Mapping[str, bytes]) -> str:
    """The self-contained report: verdict first, headline numbers, charts, then tables.

    Charts are embedded as base64 PNG data URIs and the CSS is inline: no network at all.
    """
    cards = "".join(
        f'<div class="card"><div class="label">{text(label)}</div>'
        f'<div class="value">{text(value)}</div><div class="detail">{text(detail)}</div></div>'
        for label, value, detail in wording.headline(summary)
    )
    name = text(summary.get("scenario", run.name))
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>paystorm · {name} · {text(wording.verdict(summary))}</title>",
            f"<style>{CSS}</style></head><body>",
            _verdict_html(summary),
            f"<h1>{name}</h1>",
            f'<p class="lede">{text(summary.get("description") or "")}</p>',
            f'<div class="cards">{cards}</div>',
            *sections(run, summary, charts_png),
            '<p class="muted">Built by paystorm reports from the files in this folder; '
            "rebuild with <code>paystorm report &lt;run&gt;</code>.</p>",
            "</body></html>",
            "",
        ]
    )


def _md(value: object) -> str:
    text = html.escape(str(value), quote=False)
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: Mapping[str, Any]) -> str:
    """summary.md, for CI job summaries: verdict, objectives, headline numbers, causes, notes."""
    failed = wording.failed_objectives(summary)
    broken = wording.self_check_failures(summary)
    mark = "❌" if failed or broken else "✅"
    lines = [f"## {mark} {_md(summary.get('scenario'))}: {_md(wording.verdict(summary))}", ""]
    if summary.get("description"):
        lines += [f"> {_md(summary['description'])}", ""]
    if broken:
        lines += ["**The run's self-check failed:**", ""] + [f"- {_md(b)}" for b in broken]
        lines.append("")
    if summary.get("generator"):
        lines += [f"**{_md(summary['generator'])}**", ""]
    if summary.get("stop_reason") not in (None, "completed"):
        detail = f": {summary['stop_detail']}" if summary.get("stop_detail") else ""
        lines += [f"**The run stopped early** ({_md(summary['stop_reason'])}{_md(detail)}).", ""]
    reasons: list[str] = []
    if summary.get("slo"):
        lines += ["| objective | target | measured | result |", "| --- | --- | --- | --- |"]
        for o in summary["slo"]:
            sign = wording.sign(o["comparison"])
            measured = wording.objective_value(o["name"], o["measured"])
            if o.get("note"):
                reasons.append(f"{o['name']}: {o['note']}")
                measured += f" [{len(reasons)}]"
            target = f"{sign} {wording.objective_value(o['name'], o['target'])}"
            result = "✅ passed" if o["passed"] else "❌ failed"
            lines.append(f"| {_md(o['name'])} | {target} | {_md(measured)} | {result} |")
        lines.append("")
        lines += [f"[{i}] {_md(r)}  " for i, r in enumerate(reasons, 1)]
        lines += [""] if reasons else []
    else:
        lines += ["No objectives were set.", ""]
    lines += ["| measure | value |", "| --- | --- |"]
    lines += [f"| {_md(k)} | {_md(v)} — {_md(d)} |" for k, v, d in wording.headline(summary)]
    lines.append("")
    causes = summary.get("had_credit_failures_by_cause") or {}
    if causes:
        source = summary.get("had_credit_failures_by_cause_source", "")
        lines += [f"### Had-credit failures by cause (from {_md(source)})", ""]
        lines += ["| final code | payments |", "| --- | ---: |"]
        lines += [f"| {_md(code)} | {n:,} |" for code, n in causes.items()]
        lines.append("")
    if summary.get("notes"):
        lines += ["### Notes", ""] + [f"- {_md(n)}" for n in summary["notes"]] + [""]
    return "\n".join(lines)


def render_junit(summary: Mapping[str, Any]) -> str:
    """slo.junit.xml: one testsuite, one testcase per objective, a <failure> when it failed."""
    objectives = list(summary.get("slo", []))
    failures = wording.failed_objectives(summary)
    broken = wording.self_check_failures(summary)
    if "self_check" in summary:
        # The run's numbers add up (or do not): a case of its own, before the objectives.
        line = "; ".join(broken) or "the run's files add up to its summary"
        objectives.insert(0, {"name": "self_check", "passed": not broken, "line": line})
        failures = failures + ([objectives[0]] if broken else [])
    suite_name = f"paystorm.slo.{summary.get('scenario')}"
    counts = {"tests": str(len(objectives)), "failures": str(len(failures)), "errors": "0"}
    root = ET.Element("testsuites", {"name": "paystorm", **counts})
    duration = f"{summary.get('duration_s') or 0:.3f}"
    attributes = {"name": suite_name, **counts, "skipped": "0", "time": duration}
    suite = ET.SubElement(root, "testsuite", attributes)
    for o in objectives:
        case = ET.SubElement(suite, "testcase", classname=suite_name, name=o["name"], time="0")
        line = o["line"] if "line" in o else wording.objective_line(o)
        if o["name"] == "dropped_rate" and summary.get("generator"):
            line += f". {summary['generator']}"
        if o["passed"]:
            ET.SubElement(case, "system-out").text = line
        else:
            failure = ET.SubElement(case, "failure", message=line, type="SLOViolation")
            failure.text = line
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"

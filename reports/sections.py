"""The tables and sections of report.html, each a function of the run and its summary.

Every value that reaches the page goes through `text()`, which escapes it.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from contract import runfolder
from reports import wording
from reports.causes import cause_table
from reports.model import Run
from reports.remedies import remedies_for

CHART_TITLES = {
    "success_vs_load": "Success rate versus offered load",
    "timeline": "Timeline",
    "causes": "Had-credit failures by cause over time",
    "latency": "Latency and retries",
    "gateway": "Gateway internals",
}


def text(value: object) -> str:
    """Escaped text; "://" is written as an entity so no URL appears literally in the page."""
    return html.escape(str(value)).replace("://", ":&#47;&#47;")


def table(head: Sequence[str], rows: Iterable[Sequence[object]], numeric: int = 0) -> str:
    """A table whose last `numeric` columns are right-aligned numbers; cells are pre-escaped."""
    first = len(head) - numeric

    def cells(tag: str, values: Sequence[object]) -> str:
        return "".join(
            f"<{tag}{' class=num' if i >= first else ''}>{v}</{tag}>" for i, v in enumerate(values)
        )

    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    return f"<table><thead><tr>{cells('th', head)}</tr></thead><tbody>{body}</tbody></table>"


def _slo_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for o in summary.get("slo", []):
        sign = wording.sign(o["comparison"])
        result = (
            '<span class="ok">passed</span>' if o["passed"] else '<span class="bad">failed</span>'
        )
        rows.append(
            [
                text(o["name"]),
                text(o.get("meaning", "")),
                text(f"{sign} {wording.objective_value(o['name'], o['target'])}"),
                text(wording.objective_value(o["name"], o["measured"])),
                result
                + (f' <span class="muted">{text(o["note"])}</span>' if o.get("note") else ""),
            ]
        )
    return rows


def _causes_section(run: Run, summary: Mapping[str, Any]) -> str:
    rows = [
        [
            text(r.code),
            text(r.meaning),
            wording.count(r.payments),
            wording.pct(r.share, 1),
            wording.pct(r.in_faults / r.payments, 1),
            wording.count(r.peak_per_s),
            f"{r.first_s}&ndash;{r.last_s}",
        ]
        for r in cause_table(run)
    ]
    head = ["final code", "what it means", "payments", "share", "in fault windows"]
    head += ["peak/s", "seconds"]
    causes_table = table(head, rows, numeric=5) if rows else "<p>None.</p>"
    source = text(summary.get("had_credit_failures_by_cause_source", "n/a"))
    return (
        f"<h2>Had-credit failures by cause (有额度付不了)</h2>{causes_table}"
        f'<p class="muted">Counted from {source}, by the second each payment was due to '
        "start; <em>in fault windows</em> is the share that started while a fault was "
        "applied.</p>"
    )


def _locust_section(run: Run) -> str:
    if not run.endpoints and not run.locust_errors:
        return ""
    rows = [
        [
            text(e.method or ""),
            text(e.name),
            wording.count(e.requests),
            wording.count(e.failures),
            wording.ms(e.median_ms),
            wording.ms(e.p95_ms),
            wording.ms(e.p99_ms),
            wording.per_s(e.requests_per_s),
        ]
        for e in run.endpoints
    ]
    head = ["method", "endpoint", "requests", "failures", "median", "p95", "p99", "rate"]
    out = "<h2>Requests by endpoint (Locust)</h2>"
    out += table(head, rows, numeric=6) if rows else ""
    errors = [
        [text(e.method), text(e.name), text(e.error[:200]), wording.count(e.occurrences)]
        for e in run.locust_errors[:10]
    ]
    if errors:
        out += table(["method", "endpoint", "error", "occurrences"], errors, numeric=1)
    return out + (
        '<p class="muted">From locust_stats.csv and locust_failures.csv: every request, '
        "retries and checkout pages included; Locust's percentiles are cumulative over the "
        "run.</p>"
    )


def _totals_section(summary: Mapping[str, Any]) -> str:
    totals = ["offered", "dropped", "payments", "attempts", "succeeded", "declined", "failed"]
    totals += ["unknown", "had_credit", "had_credit_failures"]
    rows = [[text(k.replace("_", " ")), wording.count(summary.get(k))] for k in totals]
    latency = summary.get("latency_ms") or {}
    rows += [[f"latency {q}", wording.ms(latency.get(q))] for q in ("p50", "p95", "p99", "max")]
    return (
        f"<h2>Payments and latency</h2>{table(['', 'value'], rows, numeric=1)}"
        f'<p class="muted">Latency from {text(latency.get("source", "n/a"))}.</p>'
    )


def _bins_section(summary: Mapping[str, Any]) -> str:
    knee = summary.get("knee") or {}
    if not knee.get("bins"):
        return ""
    rows = [
        [
            f"{b['low']:g}&ndash;{b['high']:g}",
            str(b["seconds"]),
            wording.count(b["had_credit"]),
            wording.pct(b["success_rate"]),
            wording.ms(b["p99_ms"]),
            _bin_verdict(b),
        ]
        for b in knee["bins"]
    ]
    head = ["offered/s", "seconds", "had credit", "success", "p99", "SLO"]
    width = wording.per_s(knee.get("bin_width_per_s"))
    return (
        f"<h2>Load bins</h2>{table(head, rows, numeric=5)}"
        f'<p class="muted">Seconds up to the highest load, in bins {text(width)} wide; a bin '
        "the load only passed through (under 4 % of those seconds) is not a level. The knee "
        "is the highest level before the first level that broke the SLO: "
        f"{text(wording.knee_text(knee))}.</p>"
    )


def _bin_verdict(b: Mapping[str, Any]) -> str:
    if b.get("held") is None:
        return "&ndash;"
    if b.get("held"):
        verdict = '<span class="ok">held</span>'
    else:
        names = ", ".join(b.get("broken") or ())
        verdict = f'<span class="bad">broke</span> {text(names)}'.rstrip()
    return verdict if b.get("level", True) else f"{verdict} (passed through)"


def _faults_section(run: Run) -> str:
    if not run.faults:
        return ""
    rows = [
        [
            text(f.id),
            text(f.kind),
            f"{f.started_at_s:g}",
            "end of run" if f.ended_at_s is None else f"{f.ended_at_s:g}",
        ]
        for f in run.faults
    ]
    return "<h2>Faults</h2>" + table(["id", "kind", "from s", "to s"], rows, numeric=2)


def _audit_section(run: Run) -> str:
    if run.audit is None:
        return ""
    verdict = '<span class="ok">ok</span>' if run.audit.ok else '<span class="bad">failed</span>'
    rows = [[text(c.name), text(c.detail[:300])] for c in run.audit.checks if not c.ok]
    if run.audit.error:
        rows.append(["(audit)", text(run.audit.error[:300])])
    failing = table(["failing check", "detail"], rows) if rows else ""
    pending = f" · {run.audit.pending} pending" if run.audit.pending is not None else ""
    return f"<h2>Ledger audit</h2><p>Invariants: {verdict}{pending}</p>{failing}"


def _run_section(run: Run, summary: Mapping[str, Any]) -> str:
    rows = []
    if run.info is not None:
        i = run.info
        for label, value in (
            ("target", i.target),
            ("started", i.started_at),
            ("ended", i.ended_at),
            ("stop reason", i.stop_reason),
            ("stop detail", i.stop_detail),
            ("locust exit code", i.locust_exit_code),
        ):
            if value is not None:
                rows.append([text(label), text(value)])
    duration = summary.get("duration_s")
    rows.append(["duration", "n/a" if duration is None else f"{duration:g} s"])
    if run.gateway is not None:
        rows.append(["gateway peak in flight", wording.count(run.gateway.peak("inflight"))])
        rss = run.gateway.peak("rss_bytes")
        if rss is not None:
            rows.append(["gateway peak RSS", f"{rss / 2**20:,.0f} MiB"])
    link = f'<p><a href="{runfolder.LOCUST_HTML}">Locust\'s own report</a></p>'
    link = link if run.has_locust_html else ""
    return "<h2>Run</h2>" + table(["", ""], rows) + link


def _remedies_section(summary: Mapping[str, Any]) -> str:
    """The remedies that address the top causes (`paystorm remedies` measures them)."""
    named = remedies_for(summary.get("had_credit_failures_by_cause") or {})
    rows = [
        [
            text(code),
            "<br>".join(
                text(r.title + ("" if r.measurable else " (advice)") + ": " + r.how)
                for r in remedies
            )
            or "&ndash;",
        ]
        for code, remedies in named
    ]
    if not rows:
        return ""
    return (
        f"<h2>Remedies for the top causes</h2>{table(['cause', 'remedies'], rows)}"
        '<p class="muted"><code>paystorm remedies &lt;scenario&gt;</code> measures each one '
        "the lab can switch on, on the same traffic.</p>"
    )


def sections(run: Run, summary: Mapping[str, Any], charts_png: Mapping[str, bytes]) -> list[str]:
    out: list[str] = []
    if summary.get("slo"):
        head = ["objective", "what", "target", "measured", "result"]
        out.append(f"<h2>Objectives</h2>{table(head, _slo_rows(summary))}")
    for name, data in charts_png.items():
        title = CHART_TITLES.get(name, name.replace("_", " ").capitalize())
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        out.append(f'<h2>{text(title)}</h2><img src="{uri}" alt="{text(title)} chart">')
    out += [_causes_section(run, summary), _remedies_section(summary)]
    out += [_totals_section(summary), _bins_section(summary)]
    out.append(_locust_section(run))
    out += [_faults_section(run), _audit_section(run), _run_section(run, summary)]
    if summary.get("notes"):
        items = "".join(f"<li>{text(n)}</li>" for n in summary["notes"])
        out.append(f"<h2>Notes</h2><ul>{items}</ul>")
    return [section for section in out if section]

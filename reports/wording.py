"""How numbers and verdicts read, shared by the HTML page, summary.md, JUnit and the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A table of constants (no server code): the one place each gateway code is explained.
from contract.codes import CATALOGUE

# Objectives whose values are shares (0..1), shown as percentages.
SHARE_OBJECTIVES = frozenset({"success_rate", "dropped_rate", "had_credit_failure_rate"})


def pct(rate: float | None, digits: int = 2) -> str:
    """0.99512 -> "99.51 %"; None -> "n/a"."""
    if rate is None:
        return "n/a"
    text = f"{100 * rate:.{digits}f}".rstrip("0").rstrip(".")
    return f"{text} %"


def ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.3g} ms"


def count(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def per_s(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}/s" if value >= 10 else f"{value:.3g}/s"


def sign(comparison: str) -> str:
    """ ">=" -> "≥", "<=" -> "≤"."""
    return {">=": "≥", "<=": "≤"}.get(comparison, comparison)


def objective_value(name: str, value: float | None) -> str:
    """A target or measured value in the objective's unit."""
    if value is None:
        return "unknown"
    if name in SHARE_OBJECTIVES:
        return pct(value, digits=3)
    if name.endswith("_ms"):
        return ms(value)
    return f"{value:g}"


def objective_line(objective: Mapping[str, Any]) -> str:
    """e.g. "success_rate 97.1 % (target ≥ 99 %)" or with the reason a value is unknown."""
    name = objective["name"]
    measured = objective_value(name, objective["measured"])
    target = f"{sign(objective['comparison'])} {objective_value(name, objective['target'])}"
    line = f"{name} {measured} (target {target})"
    if objective.get("note"):
        line += f": {objective['note']}"
    if objective.get("implicit"):
        line += " — set by paystorm for every open-model run that names none"
    return line


def failed_objectives(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [o for o in summary.get("slo", []) if not o["passed"]]


def self_check_failures(summary: Mapping[str, Any]) -> list[str]:
    """The run's self-check violations as lines ("<invariant>: <detail>"); none when it held."""
    check = summary.get("self_check") or {}
    return [f"{v['invariant']}: {v['detail']}" for v in check.get("violations", [])]


def verdict(summary: Mapping[str, Any]) -> str:
    """ "SLO met", "SLO met (no objectives set)", "SLO failed: <name>, <name>", or, before
    either, that the run's own numbers do not add up."""
    broken = self_check_failures(summary)
    if broken:
        names = ", ".join(dict.fromkeys(line.split(":", 1)[0] for line in broken))
        return f"Self-check failed ({names}): these numbers cannot be trusted"
    failed = failed_objectives(summary)
    if failed:
        return "SLO failed: " + ", ".join(o["name"] for o in failed)
    if not summary.get("slo"):
        return "SLO met (no objectives set)"
    return "SLO met"


def knee_text(knee: Mapping[str, Any] | None) -> str:
    """The knee in words (`reports.knee`): bracketed between a level that held and one that
    broke, held to the highest load, or, for a run held at one rate, whether its objectives
    held there."""
    if not knee:
        return "n/a"
    broke = f"broke ({', '.join(knee.get('broken_by') or ()) or 'SLO'})"
    status, offered = knee.get("status"), knee.get("offered_per_s")
    if status == "one_rate":
        verdict = "held" if knee.get("held_at_rate") else broke
        return f"n/a: one rate offered, objectives {verdict} at {per_s(knee.get('rate_per_s'))}"
    if status == "broke_at_lowest":
        return f"below {per_s(knee.get('broke_at_per_s'))}: {broke} at the lowest load offered"
    if offered is None:
        return "n/a (no objectives)" if status == "no_objectives" else "n/a"
    if knee.get("held_to_max"):
        return f"≥ {per_s(offered)}: held to the highest load offered"
    return f"{per_s(offered)}: held, {broke} at {per_s(knee.get('broke_at_per_s'))}"


def knee_label(knee: Mapping[str, Any]) -> str:
    """The knee in a few words, for a chart."""
    status, offered = knee.get("status"), knee.get("offered_per_s")
    if status == "one_rate":
        verdict = "held" if knee.get("held_at_rate") else "broke"
        return f"n/a: one rate, objectives {verdict} at {per_s(knee.get('rate_per_s'))}"
    if status == "broke_at_lowest":
        return f"below {per_s(knee.get('broke_at_per_s'))}: broke at the lowest load"
    if offered is None:
        return "n/a"
    if knee.get("held_to_max"):
        return f"≥ {per_s(offered)} (held to max load)"
    return f"{per_s(offered)} (broke at {per_s(knee.get('broke_at_per_s'))})"


def headline(summary: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(label, value, detail) for the numbers a reader looks at first."""
    latency = summary.get("latency_ms") or {}
    throughput = summary.get("throughput") or {}
    ghosts = summary.get("ghost_charges")
    windows = summary.get("fault_windows") or {}
    inside, outside = windows.get("inside") or {}, windows.get("outside") or {}
    amplification = summary.get("attempts_per_payment")
    cards = [
        (
            "success rate",
            pct(summary.get("success_rate")),
            _success_detail(summary),
        ),
        (
            "had-credit failures",
            count(summary.get("had_credit_failures")),
            "有额度付不了: had credit, did not succeed",
        ),
        (
            "p99 latency",
            ms(latency.get("p99")),
            f"p50 {ms(latency.get('p50'))} · p95 {ms(latency.get('p95'))}",
        ),
        (
            "payments",
            count(summary.get("payments")),
            f"{count(summary.get('attempts'))} attempts · {count(summary.get('offered'))} offered",
        ),
        (
            "dropped",
            count(summary.get("dropped")),
            f"{pct(summary.get('dropped_rate'))} of offered arrivals: turned away by the load "
            "generator, counted as not served",
        ),
        (
            "knee",
            knee_text(summary.get("knee")),
            "highest load level at which the objectives held, below the first that broke",
        ),
        (
            "attempts per payment",
            "n/a" if amplification is None else f"{amplification:.2f}",
            "retry amplification: POST /v1/payments per payment",
        ),
        (
            "throughput",
            per_s(throughput.get("mean_succeeded_per_s")),
            f"succeeded, mean; peak {per_s(throughput.get('peak_succeeded_per_s'))}",
        ),
        (
            "ghost charges",
            "not checked" if ghosts is None else count(ghosts),
            "charged, but the client was told it failed",
        ),
    ]
    if inside.get("seconds"):
        fault_card = (
            "success in fault windows",
            pct(inside.get("success_rate")),
            f"{count(inside.get('seconds'))} s with a fault applied; outside them "
            f"{pct(outside.get('success_rate'))}",
        )
        cards.insert(1, fault_card)
    return cards


def _success_detail(summary: Mapping[str, Any]) -> str:
    people = f"of {count(summary.get('people_with_credit'))} people with credit"
    dropped = summary.get("dropped") or 0
    if not dropped:
        return people
    return (
        f"{people}, {count(dropped)} of them dropped by the load generator; "
        f"{pct(summary.get('success_rate_of_served'))} of the payments it served"
    )


# What the client-side codes mean (the gateway's codes are explained by its catalogue).
CLIENT_CODES = {
    "CLIENT_TIMEOUT": "the client gave up waiting for an answer: charged or not is unknown",
    "CONNECTION_ERROR": "the connection failed or was cut: charged or not is unknown",
    "BAD_RESPONSE": "the answer could not be read: charged or not is unknown",
    "RUN_ENDED": "the run stopped before the outcome was known",
    "REVERSED_BY_CLIENT": "still unknown at the client's deadline, so the client reversed it",
    "NO_CODE": "did not succeed, and the log has no final code",
}


def code_meaning(code: str) -> str:
    """One line on what a final code means, from the gateway's catalogue or the client's."""
    spec = CATALOGUE.get(code)
    if spec is not None:
        return spec.message
    return CLIENT_CODES.get(code, "")

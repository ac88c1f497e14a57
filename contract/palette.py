"""The colours every view of a run shares: the report's charts and the web UI's live view
draw the same series, faults, causes and breaker states in the same colours."""

from __future__ import annotations

from collections.abc import Iterable

# Series colours (matplotlib's tab10) and fault colours chosen apart from them.
SUCCESS, FAILED, UNKNOWN, OFFERED = "#1f77b4", "#d62728", "#ff7f0e", "#7f7f7f"
ACHIEVED = "#2ca02c"
FAULT_PALETTE = ("#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#393b79", "#637939")
# tab20 without its greys: a cause keeps one colour within a chart.
CAUSE_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
    "#dbdb8d", "#9edae5",
)  # fmt: skip
OUTCOME_COLOURS = {"succeeded": SUCCESS, "declined": OFFERED, "failed": FAILED, "unknown": UNKNOWN}
BREAKER_COLOURS = {1: "#ff7f0e", 2: "#d62728"}  # half-open, open


def fault_colours(kinds: Iterable[str], labels: Iterable[str] = ()) -> dict[str, str]:
    """A colour per fault kind, by sorted kind (the same in every chart of a run), then per
    further label such as "a + b"."""
    ordered = sorted(set(kinds))
    extra = sorted(set(labels) - set(ordered))
    return {k: FAULT_PALETTE[i % len(FAULT_PALETTE)] for i, k in enumerate([*ordered, *extra])}


def cause_colours(totals: dict[str, int]) -> dict[str, str]:
    """A colour per cause, most payments first (ties by code), as the report's causes chart
    orders them."""
    ranked = sorted(totals, key=lambda code: (-totals[code], code))
    return {code: CAUSE_PALETTE[i % len(CAUSE_PALETTE)] for i, code in enumerate(ranked)}

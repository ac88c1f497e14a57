"""Which fault kinds the proxy can apply: those acting on a request and its answer. A kind
acting only inside the mock gateway (its payment decision, a channel call, a ledger commit) is
refused with the reason, named by the stages it acts at, never by its name."""

from __future__ import annotations

from typing import Any

from faults import REGISTRY, Kind

PROXY_STAGES = ("edge", "decide", "hang", "respond", "limits", "shed")
"""Where the proxy asks the kinds: before forwarding (`edge`, and `decide` for a decline code
of the error kind, answered without forwarding), while the upstream works on a payment
(`hang`), on the answer (`respond`), and at its own admission (`limits`, `shed`)."""
GATEWAY_ONLY = ("decide", "channel", "commit_late")
"""Stages inside the mock gateway: what risk control or a merchant decides, a channel call,
a ledger commit. A kind whose only request stages are these has nothing to act on here."""


_REQUEST_STAGES = ("edge", "decide", "hang", "channel", "commit_late", "respond", "limits", "shed")


def _request_stages(kind: Kind[Any]) -> list[str]:
    return [s for s in _REQUEST_STAGES if kind.acts_at(s)]


def _applies(kind: Kind[Any]) -> bool:
    return any(s in PROXY_STAGES and s not in GATEWAY_ONLY for s in _request_stages(kind))


def supported() -> list[str]:
    """Every kind the proxy applies, by name."""
    return sorted(name for name, kind in REGISTRY.items() if _applies(kind))


def refusal(name: str) -> str | None:
    """Why the proxy cannot apply faults of kind `name`, in one line (None: it can)."""
    kind = REGISTRY[name]
    if _applies(kind):
        return None
    where = ", ".join(_request_stages(kind))
    return (
        f"{name} acts inside the mock gateway (at {where}); the fault proxy sees only "
        f"requests and answers: expected one of {', '.join(supported())}"
    )

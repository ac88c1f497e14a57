"""The chaos panel's proxy and rows, without Locust (the web UI end to end is in
tests/paystorm/test_ui.py)."""

from __future__ import annotations

import pytest

from contract import routes
from contract.admin import TOKEN_ENV
from contract.profile import CHANNEL_NAMES
from faults import REGISTRY, parse_fault
from locustfiles.chaos_proxy import KIND_EXAMPLES, ChaosProxy, fault_row


def test_every_kind_has_a_valid_example_for_the_panel_form() -> None:
    assert set(KIND_EXAMPLES) == set(REGISTRY)
    for kind, params in KIND_EXAMPLES.items():
        spec = parse_fault({"kind": kind, "params": params}, CHANNEL_NAMES)
        assert spec.kind == kind


def test_a_fault_row_keeps_every_cell_short_and_names_its_row() -> None:
    row = fault_row(
        {
            "id": "f7",
            "kind": "latency",
            "params": {"ms": 200, "jitter_ms": 10},
            "target": {"route": "pay", "probability": 1.0, "min_inflight": 0},
            "start_in_s": 20.0,
            "duration_s": 30.0,
            "state": "active",
            "started_at": "2026-11-25T12:00:20.000Z",
            "ended_at": None,
        }
    )
    assert row == {
        "name": "f7",
        "id": "f7",
        "kind": "latency",
        "params": '{"jitter_ms": 10, "ms": 200}',
        "target": '{"route": "pay"}',
        "state": "active",
        "window": "+20 s, for 30 s",
        "started": "2026-11-25T12:00:20.000Z",
        "ended": "-",
    }
    bare = fault_row({"id": "f8", "kind": "lost_response", "target": {"probability": 1.0}})
    assert (bare["target"], bare["window"]) == ("all requests", "+0 s, until removed")


def test_without_a_token_the_proxy_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    answer = ChaosProxy().call("http://127.0.0.1:9", routes.FAULTS)
    assert answer.status == 503
    assert TOKEN_ENV in answer.body["error"]["message"]


def test_a_remote_gateway_is_refused_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "t")
    answer = ChaosProxy().call("http://10.255.0.1:8080", routes.FAULTS)
    assert answer.status == 400
    assert "not a loopback address" in answer.body["error"]["message"]
    assert ChaosProxy().faults("http://10.255.0.1:8080") == []


def test_an_unreachable_gateway_is_a_502(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "t")
    answer = ChaosProxy(timeout_s=2).call("http://127.0.0.1:9", routes.FAULTS)
    assert answer.status == 502
    assert "cannot reach the gateway" in answer.body["error"]["message"]

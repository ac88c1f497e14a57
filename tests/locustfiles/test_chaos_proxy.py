"""The web UI's chaos proxy and the fault kinds' forms, without Locust (the web UI end to end is in
tests/paystorm/test_ui.py)."""

from __future__ import annotations

import pytest

from contract import routes
from contract.admin import TOKEN_ENV
from contract.profile import CHANNEL_NAMES
from faults import every_kind, parse_fault
from locustfiles.chaos_proxy import ChaosProxy, kind_forms


def test_every_kind_brings_its_own_form_and_a_valid_example() -> None:
    forms = kind_forms()
    assert [k["kind"] for k in forms["kinds"]] == [k.name for k in every_kind()]
    for form in forms["kinds"]:
        schema, example = form["params"], form["example"]
        params = example.get("params", {})  # a kind whose params all have defaults
        assert schema["type"] == "object" and form["doc"], form["kind"]
        # The form's fields are the params' own, and the example fills the required ones.
        assert set(params) <= set(schema["properties"]), form["kind"]
        assert set(schema.get("required", [])) <= set(params), form["kind"]
        spec = parse_fault(example, CHANNEL_NAMES)
        assert spec.kind == form["kind"]
    assert {"route", "channel", "probability"} <= set(forms["target"]["properties"])


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

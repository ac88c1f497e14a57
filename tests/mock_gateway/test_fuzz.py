"""schemathesis over a live gateway's own /openapi.json, as a user would run it: `schemathesis
run`, every phase (examples, coverage, fuzzing, stateful along the document's links) and
every check, with a fixed seed. The document must be exactly as strict as the server: data
that fits it is accepted or answered with an outcome the operation declares (never 400),
data that breaks it is refused, nothing is a 5xx, every answer is documented. Afterwards the
ledger audit holds and the log has no traceback. `make bench` runs the same with a fresh
seed and more examples (bench/schemathesis_fuzz.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bench import schemathesis_fuzz
from tests.mock_gateway.conftest import Gateways
from tests.mock_gateway.support import TOKEN, Api

SEED = 20261201
EXAMPLES = 10  # per operation in the fuzzing phase; the coverage phase sends ~1,800 more
STATEFUL = 30  # scenarios following the links


async def test_schemathesis_every_phase_every_check_finds_nothing_undeclared(
    gateways: Gateways, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    gw = await gateways.start(tmp_path / "ledger.db")
    fuzz = await asyncio.to_thread(
        schemathesis_fuzz.run,
        gw.url,
        TOKEN,
        seed=SEED,
        max_examples=EXAMPLES,
        stateful_examples=STATEFUL,
        work=tmp_path / "schemathesis",
    )

    assert fuzz.passed, (fuzz.failures, fuzz.errors, fuzz.output[-6000:])
    assert fuzz.warnings == {}, fuzz.warnings  # e.g. an operation that only ever met 404
    assert all(fuzz.cases[phase] > 0 for phase in schemathesis_fuzz.PHASES), fuzz.cases
    # Every operation, with data that fits and data that does not.
    for phase in ("coverage", "fuzzing"):
        assert fuzz.reached[phase] == fuzz.documented, phase
    # The links took the stateful phase from created ids to the operations that use them.
    for label, status in [
        ("POST /v1/payments", 200),
        ("POST /v1/payments/{payment_id}/refunds", 200),
        ("POST /v1/payments/{payment_id}/reverse", 200),
        ("DELETE /_chaos/faults/{fault_id}", 200),
    ]:
        assert fuzz.stateful[(label, status)] > 0, (label, status, fuzz.stateful)
    # Past validation into the ledger and the chaos API, refused where the data was bad, and
    # a refund the payment's state forbids answered as the conflict it is.
    for label, status in [
        ("POST /v1/payments", 400),
        ("POST /v1/payments/{payment_id}/refunds", 409),
        ("POST /_chaos/faults", 201),
        ("POST /_chaos/faults", 400),
        ("GET /_admin/audit", 401),
    ]:
        assert fuzz.statuses[(label, status)] > 0, (label, status, fuzz.statuses)
    assert max(status for _, status in fuzz.statuses) < 500, fuzz.statuses
    # The gateway's own count agrees: it answered everything, and nothing with a 5xx.
    assert max(fuzz.answered) < 500, fuzz.answered
    assert sum(fuzz.answered.values()) >= sum(fuzz.cases.values())

    api = await Api.connect(http, gw.url)
    audit = await api.audit()
    assert audit["ok"] is True, audit
    auth = {"Authorization": f"Bearer {TOKEN}"}
    # No fault the run added ever acted: no window was applied.
    assert (await api.get("/_chaos/events", headers=auth)).json()["events"] == []
    assert not [line for line in gw.stderr if "Traceback" in line or "unexpected" in line]

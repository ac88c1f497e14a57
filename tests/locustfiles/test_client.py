"""Reading an answer (locustfiles/client/classify.py, transport.py): every answer maps to one
code — the catalogue's as sent, or the client's own for what the gateway never said — and
Locust's stats count a legitimate decline as a success. No Locust or gevent here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from contract.codes import (
    BAD_RESPONSE,
    CATALOGUE,
    CLIENT_TIMEOUT,
    CONNECTION_ERROR,
    LEGITIMATE_DECLINES,
    UNCERTAIN,
    outcome_of,
)
from locustfiles.client.classify import classify
from locustfiles.client.transport import CONNECTION, TIMEOUT, Answer, timed_out
from tests.locustfiles.fakes import error, ok


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_catalogue_code_classifies_to_its_outcome(code: str) -> None:
    ex = classify(error(code, payment_id="pay_1"))
    assert ex.code == code
    assert ex.status == CATALOGUE[code].http_status
    assert ex.body is not None and ex.body["error"]["payment_id"] == "pay_1"
    expected = (
        "declined" if code in LEGITIMATE_DECLINES else "unknown" if code in UNCERTAIN else "failed"
    )
    assert outcome_of(ex.code) == expected
    # Locust's stats: a legitimate decline is the gateway doing its job, anything else fails
    # under its own code.
    assert ex.failure_text == (None if code in LEGITIMATE_DECLINES else code)
    assert ex.retryable == CATALOGUE[code].retryable


def test_a_success_is_no_code_and_no_failure() -> None:
    ex = classify(ok(payment_id="pay_1", status="SUCCEEDED"))
    assert (ex.code, ex.failure_text) == (None, None)
    assert ex.body == {"payment_id": "pay_1", "status": "SUCCEEDED"}


@pytest.mark.parametrize(
    ("status", "content", "why"),
    [
        (200, b"<html>busy</html>", "not JSON"),
        (200, b"", "an empty body"),
        (200, b"[1, 2]", "not an object"),
        (500, b'{"error": "boom"}', "an error that is not an object"),
        (502, b'{"error": {"message": "no code"}}', "an error without a code"),
        (503, b"{}", "an error status without an error body"),
        (404, b'{"status": "ok"}', "a 4xx without an error body"),
        (402, b'{"error": {"code": "NO_SUCH_CODE"}}', "a code the catalogue does not know"),
    ],
)
def test_an_answer_that_breaks_the_contract_is_a_bad_response(
    status: int, content: bytes, why: str
) -> None:
    ex = classify(Answer(status, content))
    assert ex.code == BAD_RESPONSE, why
    assert ex.status == status
    assert ex.failure_text is not None and ex.failure_text.startswith(f"{BAD_RESPONSE}: "), why
    assert ex.retry_after_s is None


def test_no_answer_is_a_client_timeout_or_a_connection_error() -> None:
    late = classify(Answer(0, failure=TIMEOUT, elapsed_ms=5000.0, error="TimeoutError"))
    assert (late.code, late.failure_text) == (CLIENT_TIMEOUT, f"{CLIENT_TIMEOUT}: TimeoutError")
    lost = classify(Answer(0, failure=CONNECTION, elapsed_ms=3.0, error="ConnectionResetError"))
    assert lost.code == CONNECTION_ERROR
    assert lost.failure_text == f"{CONNECTION_ERROR}: ConnectionResetError"
    assert late.body is None and lost.body is None
    assert late.retryable and lost.retryable  # the request may never have arrived


def test_retry_after_is_read_in_seconds_and_an_http_date_is_ignored() -> None:
    assert classify(error("RATE_LIMITED", retry_after="2")).retry_after_s == 2.0
    assert classify(error("SYSTEM_BUSY", retry_after="0.5")).retry_after_s == 0.5
    dated = error("SYSTEM_BUSY", retry_after="Wed, 21 Oct 2026 07:28:00 GMT")
    assert classify(dated).retry_after_s is None
    assert classify(error("SYSTEM_BUSY")).retry_after_s is None


def test_a_timeout_anywhere_in_the_chain_or_near_the_deadline_is_a_timeout() -> None:
    def wrapped(inner: BaseException) -> BaseException:
        try:
            try:
                raise inner
            except BaseException as exc:
                raise ConnectionError("retries exceeded") from exc
        except ConnectionError as outer:
            return outer

    assert timed_out(TimeoutError("read"), 10.0, 5.0)
    assert timed_out(wrapped(TimeoutError("read")), 10.0, 5.0)  # hidden behind a wrapper
    assert not timed_out(wrapped(ConnectionResetError()), 10.0, 5.0)
    assert not timed_out(ConnectionRefusedError(), 10.0, 5.0)
    # geventhttpclient may drop the original: a failure after >= 95 % of the deadline.
    assert timed_out(ConnectionError(), 4750.0, 5.0)
    assert not timed_out(ConnectionError(), 4700.0, 5.0)

    class LibraryTimeout(BaseException):
        pass

    assert timed_out(wrapped(LibraryTimeout()), 1.0, 5.0, (TimeoutError, LibraryTimeout))
    assert not timed_out(wrapped(LibraryTimeout()), 1.0, 5.0)


def test_the_client_seam_imports_no_locust_or_gevent() -> None:
    # Importing Locust monkey-patches the process; these modules are tested in-process.
    probe = (
        "import sys, locustfiles.client, locustfiles.client.transport,"
        " locustfiles.client.classify, locustfiles.client.gateway, locustfiles.client.weak;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'locust', 'gevent', 'greenlet'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr

"""An answer of the mock gateway read as the client understands it: the catalogue's code (None
for success), the decoded body and Retry-After, and whether Locust's stats count it a failure.

Every answer maps to one code, so nothing is "other": the gateway's catalogue codes as sent,
and the client's own for what the gateway never said — CLIENT_TIMEOUT, CONNECTION_ERROR, and
BAD_RESPONSE for an answer that breaks the contract (not JSON, not an object, an error status
without an error body, a code the catalogue does not know).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from contract.codes import BAD_RESPONSE, CATALOGUE, CLIENT_TIMEOUT, CONNECTION_ERROR, outcome_of
from locustfiles.client.transport import TIMEOUT, Answer
from locustfiles.policy import retryable


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request's result as the client understood it."""

    status: int
    code: str | None
    body: dict[str, Any] | None
    retry_after_s: float | None = None
    failure_text: str | None = None
    """How Locust's stats mark the request: None a success (a legitimate decline is one: the
    gateway did its job), else the failure's text, which starts with the code."""

    @property
    def retryable(self) -> bool:
        return retryable(self.code)


def classify(answer: Answer) -> Exchange:
    if answer.status == 0:  # no HTTP answer at all
        lost = CLIENT_TIMEOUT if answer.failure == TIMEOUT else CONNECTION_ERROR
        return Exchange(0, lost, None, None, f"{lost}: {answer.error}")
    status, content = answer.status, answer.body
    try:
        body = orjson.loads(content)
        if not isinstance(body, dict):
            raise ValueError("not an object")
        problem = body.get("error")
        code = None if problem is None else str(problem["code"])
    except (ValueError, KeyError, TypeError):
        snippet = content[:80].decode("utf-8", "replace")
        text = f"{BAD_RESPONSE}: HTTP {status} {snippet!r}"
        return Exchange(status, BAD_RESPONSE, None, None, text)
    if code is not None and code not in CATALOGUE:
        return Exchange(status, BAD_RESPONSE, body, None, f"{BAD_RESPONSE}: unknown code {code!r}")
    if status >= 400 and code is None:
        text = f"{BAD_RESPONSE}: HTTP {status} without an error body"
        return Exchange(status, BAD_RESPONSE, body, None, text)
    failed = code is not None and outcome_of(code) != "declined"
    return Exchange(status, code, body, retry_after_s(answer.retry_after), code if failed else None)


def retry_after_s(value: str | None) -> float | None:
    """Retry-After in seconds; an HTTP-date is ignored (the back-off alone decides)."""
    try:
        return float(value) if value else None
    except ValueError:
        return None

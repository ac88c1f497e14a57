"""How big a request paystorm's servers (the gateway, the fault proxy) read: its URL, its
headers and its body, each refused with a code of its own from the catalogue before any work is
done for it."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from contract.codes import FieldError, GatewayError

MAX_URL_BYTES = 4 * 1024
MAX_HEADER_BYTES = 8 * 1024
"""One header: name and value."""
MAX_HEADERS_BYTES = 16 * 1024
"""Every header of a request together."""
MAX_HEADERS = 64

# aiohttp's HTTP parser refuses lines past these with a plain-text 400 before the app sees the
# request. They sit well above the gateway's own limits, so that ordinary oversized requests get
# the catalogue's answer naming the header; past them the connection is not worth more reading.
PARSER_LIMITS: dict[str, int] = {
    "max_line_size": 32 * 1024,
    "max_field_size": 32 * 1024,
    "max_headers": 4 * MAX_HEADERS,
}


def _too_large(code: str, field: str, reason: str) -> GatewayError:
    return GatewayError(code, fields=(FieldError(field, reason),))


def check_request(request: web.Request, max_body_bytes: int) -> None:
    """Raise the catalogue's 413, 414 or 431 for a request over a limit. Only sizes and header
    names are reported: a value may be a credential."""
    url_bytes = len(request.raw_path.encode("utf-8", "surrogateescape"))
    if url_bytes > MAX_URL_BYTES:
        raise _too_large("URI_TOO_LONG", "url", f"{url_bytes} bytes; at most {MAX_URL_BYTES}")
    headers = request.raw_headers
    if len(headers) > MAX_HEADERS:
        raise _too_large(
            "HEADERS_TOO_LARGE", "headers", f"{len(headers)} headers; at most {MAX_HEADERS}"
        )
    total = 0
    for name, value in headers:
        size = len(name) + len(value)
        if size > MAX_HEADER_BYTES:
            raise _too_large(
                "HEADERS_TOO_LARGE",
                name.decode("latin-1"),
                f"{size} bytes; at most {MAX_HEADER_BYTES} for one header",
            )
        total += size
    if total > MAX_HEADERS_BYTES:
        raise _too_large(
            "HEADERS_TOO_LARGE",
            "headers",
            f"{total} bytes in all; at most {MAX_HEADERS_BYTES}",
        )
    # A chunked body has no length up front; reading it stops at the same limit (aiohttp's
    # 413, which the middleware maps to the same answer).
    length = request.content_length
    if length is not None and length > max_body_bytes:
        raise body_too_large(max_body_bytes, length)


def body_too_large(max_body_bytes: int, length: int | None = None) -> GatewayError:
    said = "" if length is None else f"{length} bytes; "
    return _too_large("PAYLOAD_TOO_LARGE", "body", f"{said}at most {max_body_bytes} bytes")


class _WithoutRequestBytes(logging.Filter):
    """aiohttp logs a request its parser refused together with the parser's excerpt of the
    raw bytes, which may hold an Authorization header: keep the kind of error, drop the bytes
    and the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = "refused a request the HTTP parser could not read (%s, HTTP %s)"
            record.args = (type(exc).__name__, exc.code)
            record.exc_info = None
            record.exc_text = None
        return True


def _server_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if not any(isinstance(f, _WithoutRequestBytes) for f in logger.filters):
        logger.addFilter(_WithoutRequestBytes())
    return logger


def runner_kwargs(logger: str) -> dict[str, Any]:
    """What `web.AppRunner` passes to each connection's protocol: the parser's limits and the
    logger named `logger`, which never writes request bytes."""
    return {**PARSER_LIMITS, "logger": _server_logger(logger)}

"""A connection that drops before the answer comes back — the weak link's lost answers, on a
real socket (gevent's). The link itself, its round trip and deadline, is
`locustfiles.client.weak`."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from gevent import socket


def send_and_drop(
    base_url: str,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    timeout_s: float,
) -> float:
    """Send one request on a connection of its own and drop it as the answer starts to come
    back: the gateway did the work, the person never hears of it. Returns the seconds it took.
    Raises OSError when the connection could not be made at all."""
    url = urlsplit(base_url)
    host = url.hostname or "127.0.0.1"
    port = url.port or (443 if url.scheme == "https" else 80)
    head = [f"{method} {path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
    began = time.perf_counter()
    conn = socket.create_connection((host, port), timeout=timeout_s)
    try:
        conn.sendall(raw)
        # The first byte of the answer means the gateway has decided; no answer within the
        # person's deadline is dropped all the same.
        with contextlib.suppress(TimeoutError):
            conn.recv(1)
    finally:
        conn.close()
    return time.perf_counter() - began

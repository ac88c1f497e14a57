"""Keep-alive connections that stay alive in a big pool.

geventhttpclient checks an idle pooled socket with `select()` before reusing it, and
`select()` refuses descriptors at or above FD_SETSIZE (1024): in a pool of thousands of
users almost every socket fails the check, is closed and replaced by a new connection, so
every request pays a connect (and the target an accept) and the generator falls behind its
schedule exactly when the pool is big. The same check is made here with `poll()`, which has
no such limit (the original, unpatched by gevent: it does not block with a zero timeout).
"""

from __future__ import annotations

from typing import Any

from gevent import monkey
from geventhttpclient.connectionpool import ConnectionPool

_poll = monkey.get_original("select", "poll")
_POLLIN = monkey.get_original("select", "POLLIN")
_TROUBLE = monkey.get_original("select", "POLLHUP") | monkey.get_original("select", "POLLERR")


def is_socket_alive(self: ConnectionPool, sock: Any) -> bool:
    """An idle keep-alive socket is alive when it is neither readable (a FIN, or bytes
    nobody asked for) nor in trouble (hung up, in error)."""
    if sock is None:
        return False
    try:
        fd = sock.fileno()
        if fd < 0:
            return False
        poller = _poll()
        poller.register(fd, _POLLIN | _TROUBLE)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


def install() -> None:
    ConnectionPool._is_socket_alive = is_socket_alive  # type: ignore[method-assign]

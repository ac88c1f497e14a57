"""Drives the gevent transport against a server a test runs, and prints what happened as JSON.

Run as a subprocess (`python -m tests.locustfiles.transport_probe URL CLOSED_URL`): it patches
the process with gevent as Locust does, which the test process must never be.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from geventhttpclient.connectionpool import ConnectionPool  # noqa: E402

from locustfiles.client.gevent_transport import GeventTransport  # noqa: E402
from locustfiles.client.transport import Answer, Request  # noqa: E402

MANY_FILES = 1500  # past select()'s FD_SETSIZE of 1024
DEADLINE_S = 0.5


def main(url: str, closed_url: str) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MANY_FILES + 100
    if soft < wanted and (hard == resource.RLIM_INFINITY or hard >= wanted):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    files = [open("/dev/null", "rb") for _ in range(MANY_FILES)]  # noqa: SIM115

    created: list[int] = []
    create = ConnectionPool._create_socket

    def counting(pool: ConnectionPool) -> Any:
        sock = create(pool)
        created.append(sock.fileno())
        return sock

    ConnectionPool._create_socket = counting  # type: ignore[method-assign, assignment]
    reported: list[str] = []

    def report(request: Request, answer: Answer) -> None:
        reported.append(f"{request.method} {request.name} {answer.status} {answer.failure}")

    def post(path: str, deadline_s: float = 5.0) -> Request:
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"key{path}"}
        return Request("POST", path, path, b'{"amount": 1}', headers, deadline_s)

    transport = GeventTransport(url, on_request=report)
    transport.connect("/healthz", 5.0)
    answers = {f"ok{n}": transport.send(post("/ok")) for n in range(3)}
    reused_fds = list(created)
    answers["slow"] = transport.send(post("/slow", DEADLINE_S))
    answers["reset"] = transport.send(post("/reset"))
    answers["dropped"] = transport.send_and_drop(post("/drop"))
    answers["refused"] = GeventTransport(closed_url, on_request=report).send(post("/ok"))
    transport.close()
    for f in files:
        f.close()
    return {
        "answers": {
            name: {
                "status": a.status,
                "body": a.body.decode(),
                "retry_after": a.retry_after,
                "failure": a.failure,
                "error": a.error,
            }
            for name, a in answers.items()
        },
        "sockets_for_warm_up_and_three_requests": reused_fds,
        "reported": reported,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))

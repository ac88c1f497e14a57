"""`paystorm proxy` as a user runs it: a bad upstream or option is one line and exit 2; a good
one listens, answers /healthz, keeps the token to itself, and stops on SIGTERM."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from contract.argparsing import EXIT_USAGE
from tests.fault_proxy.servers import TOKEN, proxy

PROXY = [sys.executable, "-m", "fault_proxy"]
LISTENING = re.compile(r"^paystorm proxy listening on (http://127\.0\.0\.1:\d+) -> (\S+)$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["--upstream", "ftp://127.0.0.1:1"],
            "--upstream ftp://127.0.0.1:1: expected http://HOST:PORT",
        ),
        (["--upstream", "http://127.0.0.1:1/v1"], "expected no path or query"),
        (["--upstream", "http://192.0.2.7:80"], "192.0.2.7 is not a loopback address"),
        (["--upstream", "http://127.0.0.1:x"], "expected http://HOST:PORT"),
        (["--upstream", "http://127.0.0.1:{closed}"], "cannot connect"),
        (["--upstream", "http://127.0.0.1:{closed}", "--port", "70000"], "--port 70000"),
        ([], "--upstream"),
    ],
)
def test_a_bad_upstream_or_option_is_one_line_and_exit_2(args: list[str], said: str) -> None:
    closed = free_port()
    argv = [a.format(closed=closed) for a in args]
    done = subprocess.run([*PROXY, *argv], capture_output=True, text=True, timeout=30)
    assert done.returncode == EXIT_USAGE
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("paystorm proxy: ") and said.format(closed=closed) in line


def test_it_serves_until_sigterm_and_never_prints_the_token() -> None:
    with socket.socket() as upstream:
        upstream.bind(("127.0.0.1", 0))
        upstream.listen()
        base = f"http://127.0.0.1:{upstream.getsockname()[1]}"
        token = "s3cret-token-value"
        proc = subprocess.Popen(
            [*PROXY, "--upstream", base, "--port", "0", "--admin-token", token],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline().strip()
            m = LISTENING.match(first)
            assert m is not None, first
            assert m.group(2) == base
            with urllib.request.urlopen(m.group(1) + "/healthz", timeout=10) as r:
                assert r.status == 200
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert token not in first + out + err


def test_paystorm_chaos_against_the_proxy_refuses_a_gateway_kind_in_one_line() -> None:
    with socket.socket() as upstream:
        upstream.bind(("127.0.0.1", 0))
        upstream.listen()
        with proxy(f"http://127.0.0.1:{upstream.getsockname()[1]}") as url:
            chaos = [sys.executable, "-m", "paystorm", "chaos", "--url", url, "--token", TOKEN]
            done = subprocess.run(
                [*chaos, "add", "risk_strict", "--param", "false_positive_rate=0.5"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            listed = subprocess.run(
                [*chaos, "list"], capture_output=True, text=True, timeout=30, check=True
            )
    assert done.returncode == EXIT_USAGE
    (line,) = done.stderr.splitlines()
    assert "HTTP 400 INVALID_REQUEST: kind: risk_strict acts inside the mock gateway" in line
    assert '"faults": []' in listed.stdout

"""A real gateway for the monitoring tests: `paystorm gateway --port 0` as a subprocess, its
address read from the line it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

LISTENING = re.compile(r"listening on (http://\S+)")


@contextmanager
def gateway(*args: str) -> Iterator[str]:
    """The URL of a gateway with an in-memory ledger, stopped at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "paystorm", "gateway", "--port", "0", "--db", ":memory:", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            found = LISTENING.search(line)
            if found:
                yield found.group(1)
                break
        else:
            pytest.fail("the gateway did not say where it listens")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()

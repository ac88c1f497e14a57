"""What a few tests need from the machine — Debian's Chromium, promtool, the playwright
package. Where one is missing the test is skipped, saying why; on CI (`CI=true`, set by
.ci/run, which installs them) a missing one fails the test instead, so a broken install
cannot pass as a green run."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def require(found: bool, reason: str) -> None:
    """Go on when `found`; otherwise skip with `reason`, or fail with it on CI."""
    if found:
        return
    if on_ci():
        pytest.fail(f"{reason} (CI=true: required, not skipped)", pytrace=False)
    pytest.skip(reason)


def require_module(name: str, reason: str) -> ModuleType:
    """The module `name`, under the same rule as `require`."""
    try:
        return importlib.import_module(name)
    except ImportError:
        require(False, reason)
        raise  # not reached: require skipped or failed

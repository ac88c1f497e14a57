"""What watching a run in the web UI costs the load generator: `python -m bench.ui_cost`.

The same open-model scenario (steady arrivals, shoppers, the default embedded gateway) run
three ways in each of interleaved rounds: headless with `paystorm run`; from `paystorm ui`
started over HTTP with no page open; and from `paystorm ui` with its page open in Debian's
headless Chromium, the live payments view polling once a second and Locust's own page polling
its statistics. Locust's CPU (its process, from /proc) is measured over the same stretch of
each run, from 3 s after second 0 to 2 s before the load ends, as a percent of one core. The
figure is the ratio of the medians, page open over headless (target: at most 1.05); page open
over no page isolates what the view itself costs. The browser shares the machine's two cores
with the gateway and Locust; its own CPU is not Locust's and is not counted."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench.arrival_rate import cpu_pct, cpu_seconds, locust_child, run_sampling_locust
from bench.common import finished_run, median, print_section, python
from bench.report import Row, Section
from contract import runfolder
from contract.runfolder import RunFolder

RATE = 200.0  # payments/s: well inside the default gateway's knee, Locust busy but not full
DURATION_S, QUICK_DURATION_S = 45, 25
PAIRS, QUICK_PAIRS = 3, 1  # rounds of three runs: the host is shared, one round can be off by 20 %
TARGET_RATIO = 1.05
SAMPLE_EVERY_S = 0.25
SKIP_START_S, SKIP_END_S = 3.0, 2.0  # the pool connecting, and the load stopping


def scenario(duration_s: int) -> dict[str, Any]:
    return {
        "name": "ui-cost",
        "description": f"{RATE:.0f} shoppers a second against the default gateway.",
        "duration_s": duration_s,
        "load": {"model": "arrival-rate", "stages": [{"until_s": duration_s, "rate": RATE}]},
        "mix": {"shopper": 100},
        "client": {"timeout_s": 3},
    }


def window_pct(samples: list[tuple[float, float]], folder: RunFolder, duration_s: int) -> float:
    """Locust's CPU between SKIP_START_S after second 0 and SKIP_END_S before the end."""
    t0 = float(json.loads(folder.clock.read_text())["t0_unix"])
    pct = cpu_pct(samples, t0 + SKIP_START_S, t0 + duration_s - SKIP_END_S)
    if pct is None:
        raise RuntimeError(f"{folder.path}: too few CPU samples of Locust")
    return pct


def headless(path: Path, work: Path, duration_s: int) -> float:
    out = work / f"headless-{time.time_ns()}"
    argv = [python(), "-m", "paystorm", "run", str(path), "--out", str(out)]
    output, samples = run_sampling_locust(argv, dict(os.environ), timeout_s=duration_s + 120)
    return window_pct(samples, finished_run(out, "headless run", output), duration_s)


def with_ui(path: Path, work: Path, duration_s: int, watched: bool) -> float:
    """A run started from `paystorm ui`: with its page open in Chromium (`watched`), or
    started over HTTP with no page open at all."""
    out = work / f"ui-{time.time_ns()}"
    proc = subprocess.Popen(
        [
            python(),
            "-m",
            "paystorm",
            "ui",
            "--web-port",
            "0",
            "--scenario",
            str(path),
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = _ui_address(proc)
        locust = locust_child(proc.pid)
        assert locust is not None, "paystorm ui started no Locust"
        samples = _watched(url, out, locust, duration_s) if watched else []
        if not watched:
            form = urllib.parse.urlencode({"scenario": str(path)}).encode()
            with urllib.request.urlopen(f"{url}/swarm", data=form, timeout=30) as resp:
                assert json.load(resp)["success"], "Locust did not start the run"
            samples = _sample_until_written(locust, out, duration_s, time.sleep)
        (folder,) = [p for p in out.iterdir() if p.is_dir()]
        return window_pct(samples, RunFolder(folder), duration_s)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        if proc.stdout is not None:
            proc.stdout.close()


def _watched(url: str, out: Path, locust: int, duration_s: int) -> list[tuple[float, float]]:
    from playwright.sync_api import sync_playwright  # a dev dependency, as in the tests

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.locator("#ps-start-button").click()
        page.locator("#ps-state", has_text="running").wait_for(timeout=60_000)
        # The page goes on polling while the test waits in its own event loop.
        samples = _sample_until_written(
            locust, out, duration_s, lambda s: page.wait_for_timeout(s * 1000)
        )
        browser.close()
    return samples


def _sample_until_written(
    locust: int, out: Path, duration_s: int, wait: Callable[[float], object]
) -> list[tuple[float, float]]:
    """(wall clock, CPU seconds) of the Locust process until the run's outcomes are written."""
    samples = []
    deadline = time.time() + duration_s + 120
    while time.time() < deadline and not _outcomes_written(out):
        used = cpu_seconds(locust)
        if used is not None:
            samples.append((time.time(), used))
        wait(SAMPLE_EVERY_S)
    return samples


def _ui_address(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Locust web UI on " in line:
            return line.split("Locust web UI on ", 1)[1].split()[0]
    raise RuntimeError("paystorm ui exited before serving its web UI")


def _outcomes_written(out: Path) -> bool:
    return out.exists() and any((p / runfolder.OUTCOMES).exists() for p in out.iterdir())


def section(quick: bool, work: Path) -> Section:
    started = time.monotonic()
    duration_s = QUICK_DURATION_S if quick else DURATION_S
    path = work / "ui-cost.yaml"
    path.write_text(yaml.safe_dump(scenario(duration_s)))
    runs: list[tuple[float, float, float]] = []  # headless, UI unwatched, UI watched
    for _ in range(QUICK_PAIRS if quick else PAIRS):
        runs.append(
            (
                headless(path, work, duration_s),
                with_ui(path, work, duration_s, watched=False),
                with_ui(path, work, duration_s, watched=True),
            )
        )
    base, closed, ui = (median([r[i] for r in runs]) for i in range(3))
    ratio = ui / base
    return Section(
        name="ui_cost",
        title="The web UI's cost to the load generator",
        conditions=(
            f"{RATE:.0f} payments/s for {duration_s} s (shoppers, default gateway), headless "
            "`paystorm run` against `paystorm ui` with its page open in headless Chromium, and "
            "`paystorm ui` started over HTTP with no page open; "
            f"{len(runs)} interleaved round(s); Locust's CPU from /proc over the same stretch "
            "of each run. Headless Locust also writes its CSV statistics every second, the "
            "UI's does not. Gateway, Locust and the browser share the machine's two cores, "
            "and other work on the machine was not stopped."
        ),
        rows=[
            Row(
                figure="Locust CPU with the live view open, against headless",
                measured=f"{ui:.1f} % of a core",
                baseline=f"{base:.1f} % of a core",
                ratio=ratio,
                target=f"≤ {TARGET_RATIO:.2f}",
                passed=ratio <= TARGET_RATIO,
            ),
            Row(
                figure="Locust CPU with the live view open, against the UI with no page open",
                measured=f"{ui:.1f} % of a core",
                baseline=f"{closed:.1f} % of a core",
                ratio=ui / closed,
                target="reported",
                passed=None,
            ),
        ],
        details=[
            "| round | headless | UI, no page | UI, page open | open / headless |\n"
            "| --- | ---: | ---: | ---: | ---: |\n"
            + "\n".join(
                f"| {i + 1} | {h:.1f} % | {c:.1f} % | {u:.1f} % | {u / h:.3f} |"
                for i, (h, c, u) in enumerate(runs)
            )
        ],
        wall_s=time.monotonic() - started,
        quick=quick,
    )


if __name__ == "__main__":
    raise SystemExit(
        print_section(
            "ui_cost", __doc__, section, "one round of 25 s runs instead of three of 45 s"
        )
    )

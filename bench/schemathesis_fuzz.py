"""schemathesis over the gateway's whole OpenAPI document: `python -m bench.schemathesis_fuzz`.

`schemathesis run` against a live gateway's own /openapi.json, every phase (examples,
coverage, fuzzing, stateful, the last following the document's links) and every check, with
a fresh seed each time (printed, so that a failure replays with `--seed`). The document has
to be exactly as strict as the server: a request that fits it is accepted or answered with a
business outcome it declares for that operation (a decline, a conflict, not found), never
400; one that breaks it is refused. The test suite runs the same with a fixed seed
(tests/mock_gateway/test_fuzz.py).

What `schemathesis run` is told beyond the document (the config this module writes): the
admin token, for the document's bearer scheme only; for each operation, that valid data may
be answered with any status the operation declares except 400 and the size refusals (413,
414, 431) and 500; and bench/schemathesis_hooks.py, which schedules every valid fault the run
adds a week out, so that no fault acts while the run goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench.common import BENCH, python, server
from bench.report import Row, Section, table

TOKEN = "bench-schemathesis"
WORKERS = "1"  # two cores, shared with the gateway: a second worker only adds contention
PHASES = ("examples", "coverage", "fuzzing", "stateful")
# Never an answer to data that fits the document: malformed, too large, or a bug.
NOT_FOR_VALID_DATA = {"400", "413", "414", "431", "500"}
MAX_EXAMPLES = 100  # per operation and phase
QUICK_MAX_EXAMPLES = 25
HOOKS = BENCH / "schemathesis_hooks.py"
REMOVE_FAULT = "DELETE /_chaos/faults/{fault_id}"


@dataclass
class FuzzRun:
    """What one `schemathesis run` did, from its event stream and its JSON report."""

    seed: int
    exit_code: int
    wall_s: float
    cases: Counter[str] = field(default_factory=Counter)
    """Test cases sent, by phase."""
    reached: dict[str, set[str]] = field(default_factory=dict)
    """Operations that answered, by phase (`METHOD /path`)."""
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    """Answers by operation and status, every phase."""
    stateful: Counter[tuple[str, int]] = field(default_factory=Counter)
    """Answers by operation and status in the stateful phase."""
    failures: list[str] = field(default_factory=list)
    """Each distinct failure: code, title, where."""
    errors: list[str] = field(default_factory=list)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    documented: set[str] = field(default_factory=set)
    """The document's operations (`METHOD /path`)."""
    answered: Counter[int] = field(default_factory=Counter)
    """The gateway's own count of its answers by status (/metrics), after the run."""
    audit_ok: bool | None = None
    """The ledger audit after the run."""
    output: str = ""

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.failures and not self.errors


def config(document: dict[str, Any], token: str, stateful_examples: int) -> str:
    """schemathesis.toml for a run against this document (see the module's docstring)."""
    lines = [
        f'hooks = "{HOOKS}"',
        "",
        "[auth.openapi.bearer]",
        f'bearer = "{token}"',
        "",
        "[phases.stateful.generation]",
        f"max-examples = {stateful_examples}",
    ]
    for operations in document["paths"].values():
        for op in operations.values():
            declared = sorted(set(op["responses"]) - NOT_FOR_VALID_DATA)
            lines += [
                "",
                "[[operations]]",
                f'include-operation-id = "{op["operationId"]}"',
                "checks.positive_data_acceptance.expected-statuses = " + json.dumps(declared),
            ]
    return "\n".join(lines) + "\n"


def run(
    url: str, token: str, *, seed: int, max_examples: int, stateful_examples: int, work: Path
) -> FuzzRun:
    """`schemathesis run` over `url`'s document: every phase, every check; up to
    `max_examples` per operation in the fuzzing phase, `stateful_examples` scenarios in the
    stateful one (the examples and coverage phases take what the document holds)."""
    with urllib.request.urlopen(f"{url}/openapi.json", timeout=30) as resp:
        document = json.load(resp)
    work.mkdir(parents=True, exist_ok=True)
    toml, events, report = work / "schemathesis.toml", work / "events.ndjson", work / "run.json"
    toml.write_text(config(document, token, stateful_examples), encoding="utf-8")
    argv = [
        *(python(), "-m", "schemathesis.cli", "--config-file", str(toml), "run"),
        f"{url}/openapi.json",
        *("--checks", "all", "--phases", ",".join(PHASES), "--workers", WORKERS),
        *("--seed", str(seed), "--max-examples", str(max_examples), "--no-color"),
        *("--generation-database", "none", "--request-timeout", "30"),
        *("--report", "ndjson,json"),
        *("--report-ndjson-path", str(events), "--report-json-path", str(report)),
    ]
    started = time.monotonic()
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        cwd=work,  # schemathesis keeps a cache (.schemathesis/) where it runs
        env={**os.environ, "PYTHONPATH": str(BENCH.parent)},
        timeout=1800,
        check=False,
    )
    result = FuzzRun(seed, done.returncode, time.monotonic() - started, output=done.stdout)
    result.documented = {
        f"{method.upper()} {path}" for path, ops in document["paths"].items() for method in ops
    }
    _read_events(events, result)
    _read_report(report, result)
    _read_gateway(url, token, result)
    return result


def _read_gateway(url: str, token: str, result: FuzzRun) -> None:
    """What the gateway itself says of the run, beside schemathesis's word for it."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as resp:
        text = resp.read().decode()
    for family in text_string_to_metric_families(text):
        if family.name == "paystorm_http_requests":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    result.answered[int(sample.labels["status"])] += int(sample.value)
    audit = urllib.request.Request(
        f"{url}/_admin/audit", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(audit, timeout=120) as resp:
        result.audit_ok = json.load(resp)["ok"] is True


def _read_events(path: Path, result: FuzzRun) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if finished is None:
            continue
        phase, recorder = finished["phase"], finished["recorder"]
        for case_id, case in recorder.get("cases", {}).items():
            result.cases[phase] += 1
            value = case["value"]
            label = f"{value['method']} {value['path']}"
            answer = recorder.get("interactions", {}).get(case_id, {}).get("response")
            if answer and label in result.documented:
                result.reached.setdefault(phase, set()).add(label)
                result.statuses[(label, answer["status_code"])] += 1
                if phase == "stateful":
                    result.stateful[(label, answer["status_code"])] += 1


def _read_report(path: Path, result: FuzzRun) -> None:
    report = json.loads(path.read_text(encoding="utf-8"))
    result.failures = [
        f"{f['code']} {f['title']} ({f['count']}): {', '.join(f['operations'])}"
        for f in report["failures"]
    ]
    result.errors = [json.dumps(e)[:300] for e in report["errors"]]
    result.warnings = {k: v for k, v in report["warnings"].items() if v}


# -- the benchmark -------------------------------------------------------------------------


def section(quick: bool, work: Path, seed: int | None = None) -> Section:
    """The benchmark's block: a fresh seed unless one is given (to replay a failure)."""
    seed = int.from_bytes(os.urandom(4), "big") if seed is None else seed
    examples = QUICK_MAX_EXAMPLES if quick else MAX_EXAMPLES
    argv = [python(), "-m", "mock_gateway", "--port", "0", "--db", str(work / "ledger.db")]
    # A small population: the audit scans every account, and at the default 10,000 it takes
    # 3 s of CPU, over schemathesis's 10 s response-time check on a busy host.
    argv += ["--accounts", "1000", "--merchants", "100", "--admin-token", TOKEN]
    print(f"   schemathesis seed {seed}, {examples} examples per operation", flush=True)
    with server(argv, core=0) as url:
        fuzz = run(
            url,
            TOKEN,
            seed=seed,
            max_examples=examples,
            stateful_examples=examples,
            work=work / "schemathesis",
        )
    return _section(fuzz, examples, quick)


def _section(fuzz: FuzzRun, examples: int, quick: bool) -> Section:
    everywhere = set.intersection(*(fuzz.reached.get(p, set()) for p in ("coverage", "fuzzing")))
    removed = fuzz.stateful[(REMOVE_FAULT, 200)]
    s = Section(
        "schemathesis",
        "schemathesis over the whole API document",
        f"`schemathesis run` over a live gateway's `/openapi.json` (default profile, 1,000 "
        f"accounts, seed **{fuzz.seed}**, fresh each run: replay with `python -m "
        "bench.schemathesis_fuzz --seed`), phases "
        f"{', '.join(PHASES)}, `--checks all`, up to {examples} examples per operation, one "
        "worker; the admin token for the bearer scheme; valid data may get any status the "
        "operation declares but 400, 413, 414, 431 and 500. Faults the run adds are "
        "scheduled a week out (bench/schemathesis_hooks.py). The host was shared.",
        wall_s=fuzz.wall_s,
        quick=quick,
    )
    errors_5xx = sum(n for status, n in fuzz.answered.items() if status >= 500)
    s.rows = [
        Row(
            "failures (every check)",
            str(len(fuzz.failures) + len(fuzz.errors)),
            "—",
            None,
            "0",
            fuzz.passed,
        ),
        Row(
            "5xx answers, by the gateway's own count",
            f"{errors_5xx} of {sum(fuzz.answered.values()):,} answers",
            "/metrics",
            None,
            "0",
            errors_5xx == 0,
        ),
        Row(
            "ledger audit after the run",
            "holds" if fuzz.audit_ok else "fails",
            "/_admin/audit",
            None,
            "holds",
            fuzz.audit_ok is True,
        ),
        Row(
            "operations reached (coverage and fuzzing)",
            f"{len(everywhere)} of {len(fuzz.documented)}",
            "the document",
            len(everywhere) / len(fuzz.documented),
            "all",
            everywhere == fuzz.documented,
        ),
        Row(
            "stateful: removeFault with a real id",
            f"{removed} answered 200",
            "links from addFault",
            None,
            "at least 1",
            removed > 0,
        ),
    ]
    rows = [
        [phase, f"{fuzz.cases[phase]:,}", str(len(fuzz.reached.get(phase, set())))]
        for phase in PHASES
    ]
    s.details.append(table(["phase", "cases", "operations reached"], rows))
    by_operation: dict[str, Counter[int]] = {}
    for (label, status), n in fuzz.statuses.items():
        by_operation.setdefault(label, Counter())[status] += n
    s.details.append(
        table(
            ["operation", "answers by status"],
            [
                [f"`{label}`", ", ".join(f"{st}: {n:,}" for st, n in sorted(c.items()))]
                for label, c in sorted(by_operation.items())
            ],
        )
    )
    if fuzz.failures or fuzz.errors:
        s.details.append("Failures:\n\n" + "\n".join(f"- {f}" for f in fuzz.failures + fuzz.errors))
    return s


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.schemathesis_fuzz", description=__doc__)
    p.add_argument("--quick", action="store_true", help="25 examples per operation, not 100")
    p.add_argument("--seed", type=int, default=None, help="replay this seed (default: fresh)")
    p.add_argument("--keep", type=Path, default=None, help="keep the run's files here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="paystorm-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(section(args.quick, work, args.seed).markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())

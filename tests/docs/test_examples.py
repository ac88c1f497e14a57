"""The documentation's examples, run: README.md and docs/ say only what paystorm does.

Conventions in the pages (each ```yaml block carries one of these first lines):

- `# scenario`: a scenario; it must parse.
- `# catalogue: scenarios/NAME.yaml`: a catalogue file quoted whole; it must parse and be
  that file, line for line.
- `# run: FILE`: a scenario small enough to run here; it runs end to end, and its results
  folder must hold the files, columns and keys that docs/results.md describes.
- `# bad scenario: FILE`: a file `paystorm run FILE` must refuse, with exit status 2 and the
  one line of the ```text block right after it on stderr.
- `# fault`: a list of faults; each must pass the scenario loader's (the gateway's) rules.
- `# gateway config`: overrides for `paystorm gateway --config`, or a scenario's `gateway:`.

A ```sh block of `curl` requests followed by a ```http block is sent to a real gateway (a
new ledger, the default population), in page order; the answer must be the one shown. Every
`paystorm`, `make` and `python -m` command shown, in blocks, inline or in the CI files' shell
(`run`, `script`), must exist with every option it uses. The CI files are valid YAML that
name real make targets. Every relative link resolves. README.md stays a front door: under
12,000 bytes, linking every page.
"""

from __future__ import annotations

import http
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from scenarios.loader import ScenarioError, load_scenario, parse_scenario

K = TypeVar("K")

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = (README, *sorted(DOCS.glob("*.md")))
CI_FILES = tuple(sorted((DOCS / "ci").glob("*.yml")))
BENCH_RESULTS = ROOT / "bench" / "results.md"
CATALOGUE = tuple(sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml")))
PYTHON = sys.executable
ELLIPSIS = "\u2026"  # "any value" in a shown answer; "pay_…": any string starting "pay_"
DOC_GATEWAY = "http://127.0.0.1:8080"  # where the pages' curl examples send
TOKEN = "docs-example-token"
README_MAX_BYTES = 12_000
TIMEOUT_S = 60
WORKERS = 4  # subprocesses side by side (the machine has two cores, and they mostly wait)

SCENARIO_TAGS = ("# scenario", "# catalogue:", "# run:", "# bad scenario:", "# fault")
YAML_TAGS = (*SCENARIO_TAGS, "# gateway config")
SHELL_LANGS = ("sh", "bash", "shell", "console")
PAYSTORM_PROGRAMS = ("paystorm", ".venv/bin/paystorm")
PYTHON_PROGRAMS = ("python", "python3", ".venv/bin/python")
CHECKED_MODULES = ("paystorm", "bench", "bench.soak")  # `python -m X` whose options are checked
# Keys whose shown value is only an example: any string there will do.
VOLATILE_KEYS = frozenset({"created_at", "updated_at", "started_at", "ended_at", "request_id"})
VOLATILE_HEADERS = frozenset({"date", "server", "content-length", "x-request-id"})
# Files of a results folder that only some runs have.
CONDITIONAL_FILES = frozenset({"gateway.yaml", "guard.json", "proxy.log"})
FORBIDDEN = re.compile(
    r"DESIGN\.md|STYLE\.md|\.\./shared|\bissues?\s*#?\s*\d+|\bPR\s*#?\d+|(?<![\w&])#\d+\b"
    r"|/issues/\d+|/pull/\d+",
    re.IGNORECASE,
)


# --- reading the pages ------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One fenced block of a page."""

    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str  # the lines between the fences, each ending in a newline

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    def tag_value(self, tag: str) -> str:
        return self.first_line[len(tag) :].strip()


FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)\s*$")


@cache
def page_lines(page: Path) -> tuple[str, ...]:
    return tuple(page.read_text(encoding="utf-8").splitlines())


@cache
def blocks_of(page: Path) -> tuple[Block, ...]:
    lines = page_lines(page)
    found: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match:
            fence, lang, start = match.group(1), match.group(2), i
            body: list[str] = []
            i += 1
            while i < len(lines) and lines[i].strip() != fence:
                body.append(lines[i])
                i += 1
            assert i < len(lines), f"{page.relative_to(ROOT)}:{start + 1}: unclosed fence"
            found.append(Block(page, start + 1, lang, "".join(f"{b}\n" for b in body)))
        i += 1
    return tuple(found)


@cache
def prose_of(page: Path) -> str:
    """The page without its fenced blocks (each replaced by an empty line)."""
    kept: list[str] = []
    inside: str | None = None
    for line in page_lines(page):
        match = FENCE.match(line)
        if inside is None and match:
            inside = match.group(1)
            kept.append("")
        elif inside is not None:
            if line.strip() == inside:
                inside = None
            kept.append("")
        else:
            kept.append(line)
    return "\n".join(kept)


def all_blocks() -> list[Block]:
    return [b for page in PAGES for b in blocks_of(page)]


def yaml_blocks(tag: str) -> list[Block]:
    return [b for b in all_blocks() if b.lang == "yaml" and b.first_line.startswith(tag)]


def following(block: Block) -> Block | None:
    """The fenced block right after `block` on its page, with only blank lines between."""
    page_blocks = blocks_of(block.page)
    index = page_blocks.index(block)
    if index + 1 >= len(page_blocks):
        return None
    nxt = page_blocks[index + 1]
    end = block.line + block.text.count("\n")  # the closing fence, 0-based index + 1
    between = page_lines(block.page)[end + 1 : nxt.line - 1]
    return nxt if all(not line.strip() for line in between) else None


def inline_code(page: Path) -> list[str]:
    return [m.group(1) for m in re.finditer(r"`([^`]+)`", prose_of(page))]


def tables_of(page: Path, after_heading: str | None = None) -> list[list[list[str]]]:
    """Every Markdown table of a page (or of one section): its rows, header first, cells
    stripped, the separator row left out. A table ends at the first line that is not a row."""
    tables: list[list[list[str]]] = []
    section = after_heading is None
    current: list[list[str]] | None = None
    for line in prose_of(page).splitlines():
        if not line.startswith("|"):
            current = None
        if line.startswith("#"):
            section = after_heading is None or line.lstrip("#").strip() == after_heading
            continue
        if not section or not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if all(re.fullmatch(r":?-+:?", c) for c in cells):
            continue  # the separator row
        if current is None:
            current = []
            tables.append(current)
        current.append(cells)
    return tables


def body_rows(page: Path, after_heading: str, first_header: str) -> list[list[str]]:
    """The body rows of the table in a section whose header row starts with `first_header`."""
    tables = tables_of(page, after_heading)
    found = [t for t in tables if t[0][0] == first_header]
    assert found, f"{page.name}: no table headed {first_header!r} under {after_heading!r}"
    return found[0][1:]


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def section_text(page: Path, heading: str) -> str:
    out: list[str] = []
    inside = False
    for line in prose_of(page).splitlines():
        if line.startswith("#"):
            inside = line.lstrip("#").strip() == heading
            continue
        if inside:
            out.append(line)
    return "\n".join(out)


def minimal_scenario(**extra: Any) -> dict[str, Any]:
    load = {"model": "arrival-rate", "stages": [{"until_s": 60, "rate": 1}]}
    return {"name": "docs", "duration_s": 60, "load": load, **extra}


def run_command(argv: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PAYSTORM_ADMIN_TOKEN"}
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, check=False
    )


def side_by_side(
    jobs: Mapping[K, Callable[[], subprocess.CompletedProcess[str]]],
) -> dict[K, subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


# --- scenario examples ------------------------------------------------------------------


def test_every_yaml_example_is_tagged() -> None:
    untagged = [
        b.where for b in all_blocks() if b.lang == "yaml" and not b.first_line.startswith(YAML_TAGS)
    ]
    assert not untagged, f"yaml blocks with none of the tags {YAML_TAGS}: {untagged}"
    assert yaml_blocks("# scenario"), "no scenario example found"


@pytest.mark.parametrize(
    "block",
    [b for tag in ("# scenario", "# catalogue:", "# run:") for b in yaml_blocks(tag)],
    ids=lambda b: b.where,
)
def test_scenario_example_parses(block: Block) -> None:
    scenario = parse_scenario(yaml.safe_load(block.text), block.where)
    assert scenario.name


@pytest.mark.parametrize("block", yaml_blocks("# catalogue:"), ids=lambda b: b.where)
def test_catalogue_quote_is_the_file(block: Block) -> None:
    path = ROOT / block.tag_value("# catalogue:")
    quoted = block.text.split("\n", 1)[1]
    assert quoted == path.read_text(encoding="utf-8"), f"{block.where} differs from {path}"


@pytest.mark.parametrize("block", yaml_blocks("# fault"), ids=lambda b: b.where)
def test_fault_example_parses(block: Block) -> None:
    faults = yaml.safe_load(block.text)
    faults = faults if isinstance(faults, list) else [faults]
    scenario = parse_scenario(minimal_scenario(faults=faults), block.where)
    assert len(scenario.faults) == len(faults)


@pytest.mark.parametrize("block", yaml_blocks("# gateway config"), ids=lambda b: b.where)
def test_gateway_config_example_parses(block: Block) -> None:
    overrides = yaml.safe_load(block.text)
    scenario = parse_scenario(minimal_scenario(gateway=overrides), block.where)
    assert scenario.gateway == overrides


@dataclass(frozen=True)
class BadFile:
    block: Block
    name: str
    error: str


def bad_files() -> list[BadFile]:
    found = []
    for block in yaml_blocks("# bad scenario:"):
        answer = following(block)
        assert answer is not None and answer.lang == "text", (
            f"{block.where}: a bad scenario needs its ```text error line right after it"
        )
        lines = answer.text.strip().splitlines()
        assert len(lines) == 1, f"{answer.where}: expected one line, got {len(lines)}"
        found.append(BadFile(block, block.tag_value("# bad scenario:"), lines[0]))
    return found


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """`paystorm run FILE` of every bad file, side by side: exit status and stderr."""
    jobs = {}
    for bad in bad_files():
        folder = tmp_path_factory.mktemp("bad")
        (folder / bad.name).write_text(bad.block.text, encoding="utf-8")
        # In process first, read as `paystorm run` reads it (broken YAML included): a file
        # the loader takes would start a real run.
        with pytest.raises(ScenarioError):
            load_scenario(str(folder / bad.name))
        argv = [PYTHON, "-m", "paystorm", "run", bad.name, "--out", str(folder / "results")]
        jobs[bad.block.where] = partial(run_command, argv, cwd=folder)
    done = side_by_side(jobs)
    return {where: (p.returncode, p.stderr.strip()) for where, p in done.items()}


@pytest.mark.parametrize("bad", bad_files(), ids=lambda b: b.block.where)
def test_bad_file_is_refused_as_shown(bad: BadFile, refusals: dict[str, tuple[int, str]]) -> None:
    status, stderr = refusals[bad.block.where]
    assert (status, stderr) == (2, bad.error)


def test_bad_files_are_shown() -> None:
    assert len(bad_files()) >= 5


def test_scenario_catalogue_table_is_the_catalogue() -> None:
    rows = body_rows(DOCS / "scenarios.md", "The catalogue", "scenario")
    listed = {ticked(r[0])[0]: r[1] for r in rows}
    assert sorted(listed) == list(CATALOGUE)
    for name, length in listed.items():
        data = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text(encoding="utf-8"))
        assert length == f"{data['duration_s']:g} s", name


# --- commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    where: str
    words: tuple[str, ...]


FLAG = re.compile(r"^--?[A-Za-z][\w-]*")
SEPARATORS = frozenset({"&&", "||", ";", "|", "&"})


def shell_lines(text: str) -> Iterator[str]:
    """Logical lines: backslash continuations joined."""
    pending = ""
    for raw in text.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        yield pending + raw
        pending = ""
    if pending:
        yield pending


def commands_in(line: str, where: str) -> Iterator[Command]:
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return
    current: list[str] = []
    for word in [*words, ";"]:
        if word in SEPARATORS:
            while current and (re.match(r"^[A-Z_]+=", current[0]) or current[0] == "export"):
                current.pop(0)
            if current:
                yield Command(where, tuple(current))
            current = []
        else:
            current.append(word)


def shown_commands() -> list[Command]:
    found: list[Command] = []
    for page in PAGES:
        for block in blocks_of(page):
            if block.lang in SHELL_LANGS:
                for line in shell_lines(block.text):
                    found += commands_in(line, block.where)
        for code in inline_code(page):
            if code.split(" ", 1)[0] in (*PAYSTORM_PROGRAMS, "make", *PYTHON_PROGRAMS):
                found += commands_in(code.replace("\n", " "), f"{page.relative_to(ROOT)}")
    for path in CI_FILES:
        for text in ci_scripts(yaml.safe_load(path.read_text(encoding="utf-8"))):
            for line in shell_lines(text):
                found += commands_in(line, str(path.relative_to(ROOT)))
    return found


def strings_of(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_of(item)


# The keys whose values a CI runner executes as shell: a GitHub Actions step's `run`, a
# GitLab job's scripts. Other strings (a job's name, a check's title) are not commands.
SHELL_KEYS = frozenset({"run", "script", "before_script", "after_script"})


def ci_scripts(value: Any) -> Iterator[str]:
    """Every shell line a CI file runs, wherever its jobs and steps nest them."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in SHELL_KEYS and not isinstance(item, dict):
                yield from strings_of(item)
            else:
                yield from ci_scripts(item)
    elif isinstance(value, list):
        for item in value:
            yield from ci_scripts(item)


def placeholder(word: str) -> bool:
    return word.startswith(("<", "[", "$", '"$')) or ELLIPSIS in word


def flags_of(words: tuple[str, ...] | list[str]) -> set[str]:
    found = set()
    for word in words:
        match = FLAG.match(word.lstrip("["))
        if match:
            found.add(match.group(0))
    return found


@dataclass(frozen=True)
class HelpNeed:
    """One `--help` to read, and the flags a shown command expects it to offer."""

    argv: tuple[str, ...]
    flags: frozenset[str]
    where: str


def paystorm_needs(cmd: Command, subcommands: dict[str, set[str]]) -> list[HelpNeed]:
    words = list(cmd.words[1:])
    if not words or placeholder(words[0]) or words[0].startswith("-"):
        return []
    name = words[0]
    base = ("-m", "paystorm", name)
    rest = words[1:]
    nested = next((w for w in rest if w in subcommands.get(name, set())), None)
    needs = [HelpNeed(base, frozenset(), cmd.where)]
    if nested is None:
        return [HelpNeed(base, frozenset(flags_of(rest)), cmd.where)]
    at = rest.index(nested)
    needs.append(HelpNeed(base, frozenset(flags_of(rest[:at])), cmd.where))
    needs.append(HelpNeed((*base, nested), frozenset(flags_of(rest[at + 1 :])), cmd.where))
    return needs


def module_needs(cmd: Command) -> list[HelpNeed]:
    words = list(cmd.words)
    if "-m" not in words or words[words.index("-m") + 1] not in CHECKED_MODULES:
        return []
    module = words[words.index("-m") + 1]
    if module == "paystorm":
        return paystorm_needs(Command(cmd.where, ("paystorm", *words[words.index("-m") + 2 :])), {})
    return [
        HelpNeed(("-m", module), frozenset(flags_of(words[words.index("-m") + 2 :])), cmd.where)
    ]


def make_targets(cmd: Command) -> tuple[list[str], list[str]]:
    targets: list[str] = []
    assignments: list[str] = []
    for word in cmd.words[1:]:
        if placeholder(word) or word.startswith("-"):
            continue
        (assignments if "=" in word else targets).append(word)
    return targets, assignments


@cache
def paystorm_subcommands() -> dict[str, set[str]]:
    """Commands with subcommands of their own, from their usage: chaos {add,list,…}."""
    done = run_command([PYTHON, "-m", "paystorm", "chaos", "--help"])
    match = re.search(r"\{([\w,]+)\}", done.stdout)
    assert match, done.stdout
    return {"chaos": set(match.group(1).split(","))}


@pytest.fixture(scope="module")
def helps() -> dict[tuple[str, ...], subprocess.CompletedProcess[str]]:
    needed = {need.argv for need in help_needs()}
    jobs = {argv: partial(run_command, [PYTHON, *argv, "--help"]) for argv in needed}
    return side_by_side(jobs)


def help_needs() -> list[HelpNeed]:
    needs: list[HelpNeed] = []
    subcommands = paystorm_subcommands()
    for cmd in shown_commands():
        program = cmd.words[0]
        if program in PAYSTORM_PROGRAMS:
            needs += paystorm_needs(cmd, subcommands)
        elif program in PYTHON_PROGRAMS:
            needs += module_needs(cmd)
        elif program == "make":
            targets, assignments = make_targets(cmd)
            args = [a.split("=", 1)[1] for a in assignments if a.startswith("ARGS=")]
            flags = frozenset(f for a in args for f in flags_of(shlex.split(a)))
            for target in targets:
                if target in (*CATALOGUE, "distributed"):
                    needs.append(HelpNeed(("-m", "paystorm", "run"), flags, cmd.where))
                elif target == "bench-soak":
                    needs.append(HelpNeed(("-m", "bench.soak"), flags, cmd.where))
    return needs


def test_commands_are_shown() -> None:
    programs = {c.words[0] for c in shown_commands()}
    assert {"paystorm", "make"} <= programs


def test_every_paystorm_command_shown_exists_with_its_options(
    helps: dict[tuple[str, ...], subprocess.CompletedProcess[str]],
) -> None:
    problems = []
    for need in help_needs():
        done = helps[need.argv]
        shown = " ".join(need.argv[1:])
        if done.returncode != 0:
            problems.append(f"{need.where}: `{shown} --help` exits {done.returncode}")
            continue
        for flag in sorted(need.flags - {"-h", "--help"}):
            if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", done.stdout):
                problems.append(f"{need.where}: `{shown}` has no option {flag}")
    assert not problems, "\n".join(problems)


def test_every_make_target_shown_exists() -> None:
    invocations = set()
    for cmd in shown_commands():
        if cmd.words[0] == "make":
            targets, assignments = make_targets(cmd)
            invocations |= {(t, tuple(assignments), cmd.where) for t in targets}
    assert invocations
    jobs = {
        (target, where): partial(run_command, ["make", "-n", target, *assignments])
        for target, assignments, where in invocations
    }
    done = side_by_side(jobs)
    failed = [
        f"{where}: make {t}: {p.stderr.strip()}" for (t, where), p in done.items() if p.returncode
    ]
    assert not failed, "\n".join(failed)


# --- CI files -------------------------------------------------------------------------


def ci_make_targets(doc: Any, text: str) -> list[str]:
    """Every `make X` of the file's shell, a `$VAR` target resolved from its defaults."""
    defaults: dict[str, str] = {}

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and re.fullmatch(r"[A-Z_]+", key) and isinstance(item, str):
                    literal = re.findall(r"'([^']+)'\s*}}", item)
                    defaults[key] = literal[-1] if literal else item
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(doc)
    targets = []
    for script in ci_scripts(doc):
        for line in shell_lines(script):
            for cmd in commands_in(line, ""):
                if cmd.words[0] != "make":
                    continue
                for word in cmd.words[1:]:
                    variable = re.fullmatch(r"\$\{?([A-Z_]+)\}?", word)
                    if variable:
                        targets.append(defaults[variable.group(1)])
                    elif "=" not in word and not word.startswith("-"):
                        targets.append(word)
    assert "slo.junit.xml" in text and "results/ci/" in text
    return targets


@pytest.mark.parametrize("path", CI_FILES, ids=lambda p: p.name)
def test_ci_file_is_valid_and_names_real_targets(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    targets = ci_make_targets(doc, text)
    assert "install" in targets and any(t in CATALOGUE for t in targets), targets
    for target in targets:
        done = run_command(["make", "-n", target])
        assert done.returncode == 0, f"make {target}: {done.stderr}"


def test_github_workflow_keeps_and_publishes() -> None:
    doc = yaml.safe_load((DOCS / "ci" / "github-actions.yml").read_text(encoding="utf-8"))
    assert "jobs" in doc and (True in doc or "on" in doc)  # YAML 1.1 reads `on` as true
    steps = [s for job in doc["jobs"].values() for s in job["steps"]]
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert uses["actions/upload-artifact"]["if"] == "always()"
    junit = [s for s in steps if "slo.junit.xml" in json.dumps(s)]
    assert junit and all(s.get("if") == "always()" for s in junit)


def test_gitlab_job_keeps_and_publishes() -> None:
    doc = yaml.safe_load((DOCS / "ci" / "gitlab-ci.yml").read_text(encoding="utf-8"))
    artifacts = doc["paystorm"]["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"]["junit"].endswith("slo.junit.xml")
    assert doc["paystorm"]["stage"] in doc["stages"]


# --- links, size, what the pages may not say --------------------------------------------


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in prose_of(page).splitlines():
        match = re.match(r"^#{1,6}\s+(.*)$", line)
        if match:
            base = slug(match.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return frozenset(found)


def links_of(page: Path) -> list[str]:
    prose = re.sub(r"`[^`]*`", "", prose_of(page))
    return LINK.findall(prose)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in links_of(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # a URL
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        if not dest.exists() or ROOT not in (dest, *dest.parents):
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target} (no such heading)")
    assert not broken, broken


def test_readme_is_a_front_door() -> None:
    assert len(README.read_bytes()) < README_MAX_BYTES
    text = README.read_text(encoding="utf-8")
    top = text[: text.index("## ", text.index("make demo"))]
    assert "make demo" in top and "make test" in top
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in links_of(README)}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"README.md does not link {missing}"


def checked_texts() -> Iterator[tuple[str, str]]:
    for path in (*PAGES, *CI_FILES, *sorted((DOCS / "ci").glob("*"))):
        yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "bench").glob("*.md")):
        # The blocks `make bench` writes are the benchmarks' to say; the rest is ours.
        text = re.sub(
            r"<!-- bench:(\w+) -->\n.*?<!-- /bench:\1 -->\n",
            lambda m: m.group(0) if m.group(1) == "superseded" else "",
            path.read_text(encoding="utf-8"),
            flags=re.S,
        )
        yield str(path.relative_to(ROOT)), text


def test_pages_name_no_internal_notes_or_issue_numbers() -> None:
    hits = [
        f"{name}: {m.group(0)!r}"
        for name, text in checked_texts()
        for m in FORBIDDEN.finditer(text)
    ]
    assert not hits, hits


def test_bench_history_survives_make_bench(tmp_path: Path) -> None:
    from bench.report import write

    text = BENCH_RESULTS.read_text(encoding="utf-8")
    history = text[text.index("<!-- bench:superseded -->") :]
    assert "\n## History\n" in history and text.endswith(history)
    copy = tmp_path / "results.md"
    copy.write_text(text, encoding="utf-8")
    write([], copy)  # what every benchmark run does, keeping the blocks it did not measure
    assert copy.read_text(encoding="utf-8").endswith(history)


# --- the gateway's examples, against a real gateway --------------------------------------


@dataclass
class Gateway:
    url: str
    proc: subprocess.Popen[str]

    def call(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.url + path, data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers.items()), exc.read()

    def json(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        return json.loads(self.call(method, path, auth, data)[2])


def start_gateway(*extra: str) -> Gateway:
    argv = [PYTHON, "-m", "paystorm", "gateway", "--port", "0", "--db", ":memory:"]
    proc = subprocess.Popen(
        [*argv, "--admin-token", TOKEN, *extra], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on (\S+)", line)
    if not match:
        proc.kill()
        pytest.fail(f"the gateway did not start: {line!r}")
    return Gateway(match.group(1), proc)


def stop_gateway(gateway: Gateway) -> None:
    gateway.proc.terminate()
    gateway.proc.wait(timeout=TIMEOUT_S)
    if gateway.proc.stdout is not None:
        gateway.proc.stdout.close()


@pytest.fixture(scope="module")
def walk_gateway() -> Iterator[Gateway]:
    """The pages' curl examples assume a new ledger and the default population."""
    gateway = start_gateway()
    yield gateway
    stop_gateway(gateway)


@pytest.fixture(scope="module")
def spare_gateway() -> Iterator[Gateway]:
    gateway = start_gateway("--accounts", "50", "--merchants", "20")
    yield gateway
    stop_gateway(gateway)


@dataclass(frozen=True)
class Exchange:
    request: Block
    answer: Block


def exchanges() -> list[Exchange]:
    found = []
    for page in PAGES:
        for block in blocks_of(page):
            if block.lang in SHELL_LANGS and re.search(r"^\s*curl ", block.text, re.M):
                answer = following(block)
                assert answer is not None and answer.lang == "http", (
                    f"{block.where}: a curl example needs its ```http answer right after it"
                )
                found.append(Exchange(block, answer))
    return found


def curl_request(
    block: Block, variables: dict[str, str]
) -> tuple[str, str, dict[str, str], bytes | None]:
    curls = [line for line in shell_lines(block.text) if line.strip().startswith("curl ")]
    assert len(curls) == 1, f"{block.where}: one curl per example"
    line = re.sub(r"\$\{?(\w+)\}?", lambda m: variables[m.group(1)], curls[0])
    words = shlex.split(line, comments=True)[1:]
    method, url, headers, body = "GET", "", {}, None
    while words:
        word = words.pop(0)
        if word in ("-s", "-i", "-si", "-is"):
            continue
        if word == "-X":
            method = words.pop(0)
        elif word == "-H":
            name, _, value = words.pop(0).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            body = words.pop(0).encode()
            if method == "GET":
                method = "POST"
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif word.startswith("http"):
            url = word
        else:
            pytest.fail(f"{block.where}: curl option {word!r} is not understood here")
    assert url.startswith(DOC_GATEWAY), f"{block.where}: examples call {DOC_GATEWAY}"
    return method, url[len(DOC_GATEWAY) :], headers, body


def parse_answer(block: Block) -> tuple[int, str, dict[str, str], Any]:
    head, _, body = block.text.partition("\n\n")
    status_line, *header_lines = head.splitlines()
    match = re.fullmatch(r"HTTP/1\.1 (\d{3}) (.+)", status_line)
    assert match, f"{block.where}: {status_line!r}"
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(match.group(1)), match.group(2), headers, json.loads(body)


def mismatches(shown: Any, actual: Any, where: str = "body") -> list[str]:
    if isinstance(shown, dict):
        if not isinstance(actual, dict) or set(shown) != set(actual):
            got = sorted(actual) if isinstance(actual, dict) else actual
            return [f"{where}: keys {sorted(shown)} shown, {got} answered"]
        problems = []
        for key, value in shown.items():
            if key in VOLATILE_KEYS and isinstance(value, str) and isinstance(actual[key], str):
                continue
            problems += mismatches(value, actual[key], f"{where}.{key}")
        return problems
    if isinstance(shown, list):
        if not isinstance(actual, list) or len(shown) != len(actual):
            return [f"{where}: {shown!r} shown, {actual!r} answered"]
        return [p for i, s in enumerate(shown) for p in mismatches(s, actual[i], f"{where}[{i}]")]
    if isinstance(shown, str) and shown.endswith(ELLIPSIS):
        if isinstance(actual, str) and actual.startswith(shown[:-1]):
            return []
    elif shown == actual and type(shown) is type(actual):
        return []
    return [f"{where}: {shown!r} shown, {actual!r} answered"]


def test_curl_examples_are_answered_as_shown(walk_gateway: Gateway) -> None:
    found = exchanges()
    assert len(found) >= 10
    variables = {"PAYSTORM_ADMIN_TOKEN": TOKEN}
    problems = []
    for exchange in found:
        method, path, headers, body = curl_request(exchange.request, variables)
        status, answered_headers, raw = walk_gateway.call(method, path, headers, body)
        answered = {k.lower(): v for k, v in answered_headers.items()}
        code, reason, shown_headers, shown_body = parse_answer(exchange.answer)
        where = exchange.answer.where
        if reason != http.HTTPStatus(code).phrase:
            problems.append(f"{where}: {code} is {http.HTTPStatus(code).phrase}, not {reason}")
        if status != code:
            problems.append(f"{where}: status {code} shown, {status} answered ({raw[:200]!r})")
            continue
        for name, value in shown_headers.items():
            if name not in VOLATILE_HEADERS and answered.get(name) != value:
                problems.append(f"{where}: {name}: {value} shown, {answered.get(name)} answered")
        actual = json.loads(raw)
        problems += [f"{where}: {p}" for p in mismatches(shown_body, actual)]
        if status == 200 and isinstance(actual, dict) and "payment_id" in actual:
            # The pages' $PAYMENT_ID: the first payment's id (an account has a status too).
            variables.setdefault("PAYMENT_ID", actual["payment_id"])
    assert not problems, "\n".join(problems)


@cache
def openapi(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/openapi.json", timeout=TIMEOUT_S) as resp:
        document: dict[str, Any] = json.load(resp)
    return document


def test_route_table_is_the_served_api(spare_gateway: Gateway) -> None:
    rows = body_rows(DOCS / "gateway.md", "Routes", "route")
    documented = {tuple(ticked(r[0])[0].split(" ", 1)) for r in rows}
    served = {
        (method.upper(), path)
        for path, item in openapi(spare_gateway.url)["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert documented == served


def test_error_catalogue_table_is_what_the_gateway_sends(spare_gateway: Gateway) -> None:
    rows = body_rows(DOCS / "gateway.md", "Errors", "code")
    table = {ticked(r[0])[0]: (int(r[1]), r[2] == "yes", r[3]) for r in rows}
    schema = openapi(spare_gateway.url)["components"]["schemas"]["Error"]
    assert set(table) == set(schema["properties"]["error"]["properties"]["code"]["enum"])
    problems = []
    for code, (status, retryable, message_zh) in table.items():
        if status < 400:
            continue  # not an error a fault can inject: PAYMENT_PENDING
        fault = {"kind": "error", "params": {"code": code}, "target": {"route": "merchant"}}
        spare_gateway.json("POST", "/_chaos/faults", fault)
        got_status, _, raw = spare_gateway.call("GET", "/v1/merchants/m00001")
        spare_gateway.json("DELETE", "/_chaos/faults")
        error = json.loads(raw)["error"]
        got = (got_status, error["code"], error["retryable"], error["message_zh"])
        if got != (status, code, retryable, message_zh):
            problems.append(f"{code}: table {(status, code, retryable, message_zh)}, sent {got}")
    assert not problems, "\n".join(problems)


def test_audit_table_names_every_check(spare_gateway: Gateway) -> None:
    rows = body_rows(DOCS / "gateway.md", "The ledger and its audit", "check")
    audit = spare_gateway.json("GET", "/_admin/audit")
    assert {ticked(r[0])[0] for r in rows} == set(audit["checks"])


def test_metrics_table_names_served_metrics(spare_gateway: Gateway) -> None:
    rows = body_rows(DOCS / "gateway.md", "Metrics", "metric")
    names = {name for r in rows for name in ticked(r[0])}
    exposition = spare_gateway.call("GET", "/metrics")[2].decode()
    served = set(re.findall(r"^# HELP (\S+)", exposition, re.M))
    assert names and names <= served, names - served


def test_fault_tables_are_the_served_spec(spare_gateway: Gateway) -> None:
    schemas = openapi(spare_gateway.url)["components"]["schemas"]
    spec = schemas["FaultSpec"]["properties"]
    kinds = {ticked(r[0])[0] for r in body_rows(DOCS / "faults.md", "Kinds", "kind")}
    assert kinds == set(spec["kind"]["enum"])
    targets = body_rows(DOCS / "faults.md", "A fault", "target field")
    assert {n for r in targets for n in ticked(r[0])} == set(schemas["FaultTarget"]["properties"])
    fields = {ticked(r[0])[0] for r in body_rows(DOCS / "faults.md", "A fault", "field")}
    assert fields == set(spec)


# --- the two-second run of docs/results.md ----------------------------------------------


@dataclass(frozen=True)
class TryRun:
    run_dir: Path
    status: int
    output: str


@pytest.fixture(scope="module")
def try_run(tmp_path_factory: pytest.TempPathFactory) -> TryRun:
    (block,) = yaml_blocks("# run:")
    folder = tmp_path_factory.mktemp("try")
    name = block.tag_value("# run:")
    (folder / name).write_text(block.text, encoding="utf-8")
    argv = [PYTHON, "-m", "paystorm", "run", name, "--out", str(folder / "results")]
    done = run_command(argv, cwd=folder)
    runs = sorted((folder / "results").iterdir())
    assert len(runs) == 1, done.stdout + done.stderr
    return TryRun(runs[0], done.returncode, done.stdout + done.stderr)


def test_try_run_exits_as_documented(try_run: TryRun) -> None:
    assert try_run.status == 0, try_run.output


def test_results_files_are_the_documented_ones(try_run: TryRun) -> None:
    rows = body_rows(DOCS / "results.md", "The files", "file")
    documented = {name.rstrip("/") for r in rows for name in ticked(r[0])}
    present = {p.name for p in try_run.run_dir.iterdir()}
    assert present <= documented, present - documented
    assert documented - present <= CONDITIONAL_FILES, documented - present - CONDITIONAL_FILES
    charts = next(r for r in rows if ticked(r[0]) == ["charts/"])
    assert set(ticked(charts[1])) == {p.name for p in (try_run.run_dir / "charts").iterdir()}
    for file, path in (("ledger.jsonl", "ledger.jsonl"), ("reconcile.json", "reconcile.json")):
        row = next(r for r in rows if ticked(r[0]) == [file])
        keys = set(ticked(row[1])) - {"examples"} if file == "ledger.jsonl" else set(ticked(row[1]))
        first = (try_run.run_dir / path).read_text(encoding="utf-8").splitlines()
        record = json.loads(first[0] if file.endswith("l") else "\n".join(first))
        assert keys == set(record), file


def test_outcomes_columns_are_the_documented_ones(try_run: TryRun) -> None:
    page = DOCS / "results.md"
    (shown,) = [b for b in blocks_of(page) if b.lang == "text" and b.text.startswith("time,")]
    header = (try_run.run_dir / "outcomes.csv").read_text(encoding="utf-8").splitlines()[0]
    fixed = shown.text.strip().split(",")
    columns = header.split(",")
    assert columns[: len(fixed)] == fixed
    assert all(c.startswith("code_") for c in columns[len(fixed) :])
    described = {n for r in body_rows(page, "`outcomes.csv`", "column") for n in ticked(r[0])}
    assert described == {*fixed, "code_<CODE>"}


def test_payment_lines_are_the_documented_ones(try_run: TryRun) -> None:
    page = DOCS / "results.md"
    # A row may name several fields (`user_id`, `merchant_id`), in the order of the line.
    fields = [n for r in body_rows(page, "`payments.jsonl`", "field") for n in ticked(r[0])]
    (example,) = [b for b in blocks_of(page) if b.lang == "json" and '"type"' in b.text]
    lines = (try_run.run_dir / "payments.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines
    for line in [example.text, *lines]:
        assert list(json.loads(line)) == fields


def test_summary_keys_are_the_documented_ones(try_run: TryRun) -> None:
    rows = body_rows(DOCS / "results.md", "`summary.json`", "key")
    documented = {name for r in rows for name in ticked(r[0])}
    summary = json.loads((try_run.run_dir / "summary.json").read_text(encoding="utf-8"))
    assert documented == set(summary)


def test_gateway_metrics_columns_are_described(try_run: TryRun) -> None:
    names = ticked(section_text(DOCS / "results.md", "`gateway_metrics.csv`"))
    patterns = [re.sub(r"<[a-z]+>", r"\\w+", re.escape(n)) for n in names]  # <channel>, <kind>
    header = (try_run.run_dir / "gateway_metrics.csv").read_text(encoding="utf-8")
    for column in header.splitlines()[0].split(","):
        assert any(re.fullmatch(p, column) for p in patterns), column


def test_report_and_compare_work_as_shown(try_run: TryRun, tmp_path: Path) -> None:
    cut = tmp_path / "cut" / try_run.run_dir.name
    shutil.copytree(try_run.run_dir, cut)
    lines = (cut / "payments.jsonl").read_bytes().splitlines()
    (cut / "payments.jsonl").write_bytes(b"\n".join([*lines[:-1], lines[-1][:40]]))
    out = tmp_path / "compare"
    run = str(try_run.run_dir)
    done = side_by_side(
        {
            "report": lambda: run_command([PYTHON, "-m", "paystorm", "report", run]),
            "cut": lambda: run_command([PYTHON, "-m", "paystorm", "report", str(cut)]),
            "compare": lambda: run_command(
                [PYTHON, "-m", "paystorm", "compare", run, run, "--out", str(out)]
            ),
        }
    )
    assert done["report"].returncode == 0, done["report"].stderr
    assert "report.html: SLO met" in done["report"].stdout
    (shown,) = [
        b.text.strip()
        for b in blocks_of(DOCS / "reports.md")
        if b.lang == "text" and b.text.startswith("paystorm report: ")
    ]

    def same_run(line: str) -> str:
        return re.sub(r"^paystorm report: \S+/payments\.jsonl", "RUN/payments.jsonl", line)

    assert done["cut"].returncode == 2
    assert same_run(done["cut"].stderr.strip()) == same_run(shown)
    assert done["compare"].returncode == 0, done["compare"].stderr
    written = {p.name for p in out.iterdir()}
    assert written == {"compare.html", "compare.md", "compare.json", "charts"}

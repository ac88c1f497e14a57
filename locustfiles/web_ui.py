"""paystorm in Locust's web UI: the scenario-first start page, the live payments view with
its chaos controls, and a results folder for every test started there.

Locust 2.47's React UI takes extra tabs only as tables fed by `/stats/requests`, and polls
those only while a test runs, so paystorm's part is its own: a script and a stylesheet served
from the package (`locustfiles/static/`), put into Locust's page ahead of React's root. They
draw on `/paystorm/scenarios`, `/paystorm/live` (polled once a second) and `/paystorm/kinds`,
and change faults through `/paystorm/faults`; the admin token never leaves this process."""

from __future__ import annotations

import csv
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from urllib.parse import quote, urlsplit

from flask import Response, abort, jsonify, request, send_from_directory
from locust.env import Environment
from locust.html import get_html_report
from locust.runners import (
    STATE_CLEANUP,
    STATE_RUNNING,
    STATE_SPAWNING,
    STATE_STOPPED,
    MasterRunner,
)
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

from contract import routes, runfolder
from contract.admin import TOKEN_ENV
from contract.codes import error_body, invalid
from contract.runfolder import RunFolder
from contract.target import TargetError, check_target
from locustfiles.chaos_proxy import Answer, ChaosProxy, kind_forms, problem
from locustfiles.context import RunContext, context_of
from locustfiles.live import LiveRun, scenario_card
from locustfiles.live_gateway import GatewayWatch
from scenarios.loader import ScenarioError, catalogue, dump, load_scenario
from scenarios.model import Scenario
from scenarios.pool import longest_person_of, pool_of

log = logging.getLogger(__name__)

STATIC = ("charts.js", "live.js", "live.css")  # what the page loads from locustfiles/static/
# Ahead of React's root, so the UI's own renders never touch it.
PAGE_PARTS = (
    '<link rel="stylesheet" href="./paystorm/static/live.css">\n'
    '<div id="paystorm" data-testid="paystorm"></div>\n'
    '<script src="./paystorm/static/charts.js" defer></script>\n'
    '<script src="./paystorm/static/live.js" defer></script>\n'
)
ROOT = '<div id="root">'
REPORT_FILES = (runfolder.REPORT_HTML, runfolder.SUMMARY_MD, runfolder.OUTCOMES)


def install(
    environment: Environment,
    use_scenario: Callable[[Scenario], RunContext],
    *,
    allow_remote: bool,
) -> None:
    """Wire the start page, the live view and the chaos controls into `environment.web_ui`."""
    web_ui = environment.web_ui
    assert web_ui is not None
    app = web_ui.app
    assert app is not None
    proxy = ChaosProxy(allow_remote=allow_remote)
    watch = GatewayWatch(proxy)
    gateway_for = context_of(environment).scenario  # `paystorm ui` set its gateway up for it
    options = environment.parsed_options
    started_with = options.scenario if options else "steady"
    results_base = Path(options.results_dir) if options and options.results_dir else None
    context_of(environment).results_dir = None  # each test writes into a folder of its own
    live: list[LiveRun] = []  # the view of the current context, rebuilt when a test starts

    def view_of(ctx: RunContext) -> LiveRun:
        if not live or live[0].ctx is not ctx:
            master = isinstance(environment.runner, MasterRunner)
            live[:] = [LiveRun(ctx, in_flight_known=not master)]
        return live[0]

    def load_stopped(**_: object) -> None:
        ctx = context_of(environment)
        if ctx.started:
            view_of(ctx).ended_s = ctx.now_s()

    environment.events.test_stopping.add_listener(load_stopped)

    def locust_files(**_: object) -> None:
        ctx = context_of(environment)
        if ctx.results_dir is not None and ctx.started:
            _write_locust_files(environment, RunFolder(ctx.results_dir))

    # After the locustfile's own test_stop hook (registered at its import): the run's
    # folder then holds Locust's statistics and page as a headless run's does.
    environment.events.test_stop.add_listener(locust_files)

    def host() -> str:
        return environment.host or ""

    @app.before_request
    def pick_scenario() -> Response | None:
        """Start pressed: the run is built from the scenario chosen in the form, before Locust
        asks the shape for its first tick."""
        if request.endpoint != "locust.swarm" or request.method != "POST":
            return None
        runner = environment.runner
        if runner is None or runner.state in (STATE_RUNNING, STATE_SPAWNING):
            return None  # a running shape test cannot be edited; Locust says so itself
        try:
            given_host = request.form.get("host")
            if given_host:
                check_target(given_host, allow_remote=allow_remote)
            scenario = load_scenario(request.form.get("scenario") or started_with)
            if scenario.faults and not os.environ.get(TOKEN_ENV):
                raise TargetError(f"the scenario has faults but ${TOKEN_ENV} is not set")
            if scenario.gateway != gateway_for.gateway:
                log.warning(
                    "paystorm: %s asks the gateway for %s, but it runs with the settings of %s "
                    "(%s): `paystorm ui --scenario %s` starts one with them",
                    scenario.name,
                    scenario.gateway or "its defaults",
                    gateway_for.name,
                    gateway_for.gateway or "defaults",
                    scenario.name,
                )
            ctx = use_scenario(scenario)
        except (ScenarioError, TargetError) as exc:
            message = str(exc).replace("--target", "host")
            log.error("paystorm: %s", message)
            return jsonify({"success": False, "message": message, "host": environment.host})
        # As `paystorm run` lets the slowest person in flight at the end finish.
        environment.stop_timeout = float(int(longest_person_of(scenario)) + 2)
        if results_base is not None:
            ctx.results_dir = _run_folder(results_base, scenario)
        return None

    @app.after_request
    def add_paystorm(response: Response) -> Response:
        if response.status_code != 200:
            return response
        if request.endpoint == "locust.request_stats":
            data = response.get_json(silent=True)
            if isinstance(data, dict) and data.get("state") == STATE_CLEANUP:
                # Locust's page polls these stats only while a test spawns or runs: one
                # poll that lands while the users are being stopped leaves it showing
                # CLEANUP for good. Still "running" until they are stopped, it polls on
                # and shows STOPPED.
                response.set_data(json.dumps({**data, "state": STATE_RUNNING}))
        elif request.endpoint == "locust.index" and response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            response.set_data(page.replace(ROOT, PAGE_PARTS + ROOT, 1))
        return response

    @app.route("/paystorm/static/<name>")
    def static_file(name: str) -> Response:
        if name not in STATIC:
            abort(404)
        text = resources.files("locustfiles").joinpath("static", name).read_text("utf-8")
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return Response(text, mimetype=kind)

    @app.route("/paystorm/scenarios")
    def scenarios() -> Response:
        names = catalogue()
        if started_with not in names:
            names = [started_with, *names]  # a scenario file `paystorm ui` was given
        cards = []
        for name in names:
            try:
                scenario = load_scenario(name)
            except ScenarioError as exc:
                cards.append({"id": name, "name": name, "error": str(exc)})
                continue
            card = {"id": name, **scenario_card(scenario)}
            if scenario.load.model == "arrival-rate":
                card["pool_users"] = pool_of(scenario).users
            cards.append(card)
        return jsonify({"scenarios": cards, "selected": started_with, "host": host()})

    @app.route("/paystorm/live")
    def live_view() -> Response:
        ctx = context_of(environment)
        view = view_of(ctx)
        try:
            since = max(0, int(request.args.get("since", "0")))
        except ValueError:
            refused = invalid("since", "expected a whole number of seconds")
            return _send(
                Answer(refused.spec.http_status, error_body(refused, uuid.uuid4().hex[:16]))
            )
        t0 = ctx.t0 if ctx.started else None
        watch.refresh(host(), t0, sample=view.ended_s is None)
        runner = environment.runner
        state = runner.state if runner is not None else "ready"
        snapshot = view.snapshot(since, stopped=state == STATE_STOPPED)
        snapshot["state"] = state
        snapshot["gateway"] = watch.view(since, t0)
        snapshot["host"] = host()
        snapshot["results"] = _results_of(ctx)
        return jsonify(snapshot)

    @app.route("/paystorm/results/<run>/<name>")
    def result_file(run: str, name: str) -> Response:
        if results_base is None or name not in REPORT_FILES:
            abort(404)
        return send_from_directory(results_base.resolve(), f"{run}/{name}")

    @app.route("/paystorm/kinds")
    def kinds() -> Response:
        return jsonify({**kind_forms(), "gateway": host()})

    @app.route("/paystorm/faults", methods=["GET", "POST", "DELETE"])
    def faults() -> Response:
        if request.method == "GET":
            return _send(proxy.call(host(), routes.FAULTS))
        refused = _cross_site()
        if refused is not None:
            return _send(refused)
        if request.method == "DELETE":
            return _send(proxy.call(host(), routes.CLEAR_FAULTS))
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _send(problem(400, "expected a JSON object: a fault"))
        return _send(proxy.call(host(), routes.ADD_FAULT, body))

    @app.route("/paystorm/faults/<fault_id>", methods=["DELETE"])
    def fault(fault_id: str) -> Response:
        refused = _cross_site()
        if refused is not None:
            return _send(refused)
        return _send(
            proxy.call(host(), routes.DELETE_FAULT, params={"fault_id": quote(fault_id, safe="")})
        )


def _run_folder(base: Path, scenario: Scenario) -> Path:
    """A results folder named as `paystorm run` names its own, with the scenario as run."""
    base.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromtimestamp(time.time(), UTC).strftime("%Y%m%dT%H%M%SZ")
    folder, n = base / f"{scenario.name}-{stamp}", 1
    while folder.exists():
        n += 1
        folder = base / f"{scenario.name}-{stamp}-{n}"
    folder.mkdir()
    (folder / runfolder.SCENARIO).write_text(dump(scenario), encoding="utf-8")
    return folder


def _write_locust_files(environment: Environment, folder: RunFolder) -> None:
    """locust_stats.csv, locust_failures.csv and locust.html, as `--csv` and `--html` write
    them in a headless run."""
    stats = StatsCSV(environment, PERCENTILES_TO_REPORT)
    with folder.locust_stats.open("w", newline="", encoding="utf-8") as fh:
        stats.requests_csv(csv.writer(fh))
    with (folder / runfolder.LOCUST_FAILURES).open("w", newline="", encoding="utf-8") as fh:
        stats.failures_csv(csv.writer(fh))
    page = get_html_report(environment, show_download_link=False)
    folder.locust_html.write_text(page, encoding="utf-8")


def _results_of(ctx: RunContext) -> dict[str, str | None] | None:
    """The test's results folder, and its report once `paystorm ui` has built it."""
    folder = ctx.results_dir
    if folder is None:
        return None
    report = folder / runfolder.REPORT_HTML
    return {
        "folder": str(folder),
        "report": f"./paystorm/results/{quote(folder.name)}/{runfolder.REPORT_HTML}"
        if report.exists()
        else None,
    }


def _cross_site() -> Answer | None:
    """Locust allows any origin (CORS); a change to the gateway must come from its own pages."""
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        return problem(403, f"changes come only from the web UI's own pages, not {origin}")
    return None


def _send(answer: Answer) -> Response:
    response = jsonify(answer.body)
    response.status_code = answer.status
    return response

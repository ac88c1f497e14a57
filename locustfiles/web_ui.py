"""paystorm in Locust's web UI: the scenario picked in the start form, and the chaos panel.

Locust 2.47's React UI takes extra tabs only as tables fed by `/stats/requests` (and polls that
only while a test runs), so the Chaos tab lists the faults, and the form that adds and clears
them is a page of its own, `/paystorm/chaos`, opened from a button this module adds to the UI's
page and from the Download Data tab."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from importlib import resources
from urllib.parse import quote, urlsplit

from flask import Response, jsonify, request
from locust.env import Environment
from locust.runners import STATE_CLEANUP, STATE_RUNNING, STATE_SPAWNING

from contract import routes
from contract.admin import TOKEN_ENV
from contract.target import TargetError, check_target
from locustfiles.chaos_proxy import KIND_EXAMPLES, Answer, ChaosProxy, fault_row, problem
from locustfiles.context import context_of
from scenarios.loader import ScenarioError, load_scenario
from scenarios.model import Scenario

log = logging.getLogger(__name__)

TAB_KEY = "paystorm-chaos"
STATS_TIMEOUT_S = 2.0  # the UI polls its stats every 2 s; a stalled gateway must not hold them
TAB_COLUMNS = (
    ("id", "Fault"),
    ("kind", "Kind"),
    ("params", "Params"),
    ("target", "Target"),
    ("state", "State"),
    ("window", "Window"),
    ("started", "Started"),
    ("ended", "Ended"),
)
# Outside React's root, so the UI's own renders never touch it.
PANEL_BUTTON = """
<div id="paystorm-chaos" style="position:fixed;right:16px;bottom:56px;z-index:2000;
     display:flex;flex-direction:column;align-items:flex-end;gap:8px">
  <iframe id="paystorm-chaos-frame" title="paystorm chaos panel"
    style="display:none;width:min(760px,92vw);height:70vh;border:1px solid #888;
           border-radius:8px;background:#fff;box-shadow:0 4px 24px #0006"></iframe>
  <button id="paystorm-chaos-toggle" type="button"
    style="padding:10px 16px;border:0;border-radius:20px;background:#c62828;color:#fff;
           font:600 14px sans-serif;cursor:pointer;box-shadow:0 2px 8px #0005"
    >Chaos panel</button>
</div>
<script>
document.getElementById("paystorm-chaos-toggle").addEventListener("click", () => {
  const frame = document.getElementById("paystorm-chaos-frame");
  if (!frame.src) frame.src = "./paystorm/chaos";
  frame.style.display = frame.style.display === "none" ? "block" : "none";
});
</script>
"""


def install(
    environment: Environment,
    use_scenario: Callable[[Scenario], object],
    *,
    allow_remote: bool,
) -> None:
    """Wire the scenario picker and the chaos panel into `environment.web_ui`."""
    web_ui = environment.web_ui
    assert web_ui is not None
    app = web_ui.app
    assert app is not None
    proxy = ChaosProxy(allow_remote=allow_remote)
    gateway_for = context_of(environment).scenario  # `paystorm ui` set its gateway up for it
    web_ui.template_args["extended_tabs"] = [{"title": "Chaos", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": k, "title": t} for k, t in TAB_COLUMNS]}
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "./paystorm/chaos", "title": "Chaos panel: add and clear faults on the gateway"}
    ]

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
            options = environment.parsed_options
            started_with = options.scenario if options else "steady"
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
            use_scenario(scenario)
        except (ScenarioError, TargetError) as exc:
            message = str(exc).replace("--target", "host")
            log.error("paystorm: %s", message)
            return jsonify({"success": False, "message": message, "host": environment.host})
        return None

    @app.after_request
    def add_panel(response: Response) -> Response:
        if response.status_code != 200:
            return response
        if request.endpoint == "locust.request_stats":
            rows = [fault_row(f) for f in proxy.faults(host(), timeout_s=STATS_TIMEOUT_S)]
            data = response.get_json(silent=True)
            if isinstance(data, dict):
                extended = [{"key": TAB_KEY, "data": rows}]
                if data.get("state") == STATE_CLEANUP:
                    # Locust's page polls these stats only while a test spawns or runs: one
                    # poll that lands while the users are being stopped leaves it showing
                    # CLEANUP for good. Still "running" until they are stopped, it polls on
                    # and shows STOPPED.
                    data["state"] = STATE_RUNNING
                response.set_data(json.dumps({**data, "extended_stats": extended}))
        elif request.endpoint == "locust.index" and response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            response.set_data(page.replace("</body>", PANEL_BUTTON + "</body>", 1))
        return response

    @app.route("/paystorm/chaos")
    def chaos_page() -> Response:
        page = resources.files("locustfiles").joinpath("chaos_panel.html").read_text("utf-8")
        return Response(page, mimetype="text/html")

    @app.route("/paystorm/kinds")
    def kinds() -> Response:
        kinds = [{"kind": kind, "params": params} for kind, params in KIND_EXAMPLES.items()]
        return jsonify({"kinds": kinds, "gateway": host()})

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

"""The results folder of one run: every file's name, in one place.

The runner, Locust's plugin, the gateway's sampler and the report all meet here; a file is
renamed or added by changing this module, and docs/results.md describes each one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SCENARIO = "scenario.yaml"  # the scenario as run, overrides applied
GATEWAY_CONFIG = "gateway.yaml"  # the embedded gateway's settings, when the scenario sets any
RUN = "run.json"  # what was run, where, how it ended
CLOCK = "clock.json"  # the wall-clock time of the run's second 0
PROGRESS = "progress.json"  # live counters, rewritten every second while the run goes
GUARD = "guard.json"  # why a safety guard stopped the run, when one did
SETUP_ERROR = "setup_error.json"  # why Locust could not start the run, when it could not
PAYMENTS = "payments.jsonl"  # one line per payment or refund, written as each ends
OUTCOMES = "outcomes.csv"  # one row per second of intended start
GATEWAY_METRICS = "gateway_metrics.csv"  # the gateway's /metrics, sampled once a second
FAULTS = "faults.json"  # the fault windows on the run's clock
AUDIT = "audit.json"  # the ledger's own invariants, checked after settling
LEDGER = "ledger.jsonl"  # the ledger's payments, exported after settling
RECONCILE = "reconcile.json"  # the client's lines against the ledger's rows
LOCUST_HTML = "locust.html"
LOCUST_LOG = "locust.log"
LOCUST_STATS_PREFIX = "locust"  # Locust's --csv prefix: locust_stats.csv, locust_failures.csv
LOCUST_STATS = "locust_stats.csv"
LOCUST_FAILURES = "locust_failures.csv"
GATEWAY_LOG = "gateway.log"
PROXY_LOG = "proxy.log"  # the fault proxy's output, when the scenario puts one in the path
LEDGER_DB = "ledger.db"  # the embedded gateway's database, in a temporary folder
SUMMARY = "summary.json"
REPORT_HTML = "report.html"
SUMMARY_MD = "summary.md"
JUNIT = "slo.junit.xml"
CHARTS = "charts"


@dataclass(frozen=True, slots=True)
class RunFolder:
    """One run's folder; each property is the path of one of its files."""

    path: Path

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def scenario(self) -> Path:
        return self.path / SCENARIO

    @property
    def gateway_config(self) -> Path:
        return self.path / GATEWAY_CONFIG

    @property
    def run(self) -> Path:
        return self.path / RUN

    @property
    def clock(self) -> Path:
        return self.path / CLOCK

    @property
    def progress(self) -> Path:
        return self.path / PROGRESS

    @property
    def guard(self) -> Path:
        return self.path / GUARD

    @property
    def setup_error(self) -> Path:
        return self.path / SETUP_ERROR

    @property
    def payments(self) -> Path:
        return self.path / PAYMENTS

    @property
    def outcomes(self) -> Path:
        return self.path / OUTCOMES

    @property
    def gateway_metrics(self) -> Path:
        return self.path / GATEWAY_METRICS

    @property
    def faults(self) -> Path:
        return self.path / FAULTS

    @property
    def audit(self) -> Path:
        return self.path / AUDIT

    @property
    def ledger(self) -> Path:
        return self.path / LEDGER

    @property
    def reconcile(self) -> Path:
        return self.path / RECONCILE

    @property
    def locust_html(self) -> Path:
        return self.path / LOCUST_HTML

    @property
    def locust_log(self) -> Path:
        return self.path / LOCUST_LOG

    @property
    def locust_csv_prefix(self) -> Path:
        return self.path / LOCUST_STATS_PREFIX

    @property
    def locust_stats(self) -> Path:
        return self.path / LOCUST_STATS

    @property
    def summary(self) -> Path:
        return self.path / SUMMARY

    @property
    def junit(self) -> Path:
        return self.path / JUNIT

    @property
    def charts(self) -> Path:
        return self.path / CHARTS

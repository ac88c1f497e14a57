# paystorm — every target creates .venv and installs the project first.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCENARIOS := $(sort $(basename $(notdir $(wildcard scenarios/*.yaml))))

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

.PHONY: help
help: ## show this help, with every scenario
	@echo "paystorm — load and chaos lab for credit-pay checkouts"
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | sort | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-28s %s\n", $$1, $$2}'
	@echo
	@echo "Scenarios (make <name>):"
	@for f in $(wildcard scenarios/*.yaml); do \
		n=$$(basename $$f .yaml); \
		d=$$(grep -m1 '^description:' $$f | sed -e 's/^description: *//' -e 's/^"//' -e 's/"$$//'); \
		printf "  make %-28s %s\n" "$$n" "$$d"; \
	done

.PHONY: install
install: $(STAMP) ## create .venv and install paystorm with its dev tools

.PHONY: demo
demo: $(STAMP) ## run the flagship promo-spike scenario end to end and print where the report is
	@# Exit 1 means the run worked and an SLO failed, which is what a flash sale shows.
	$(BIN)/paystorm run flash-sale || [ $$? -eq 1 ]

.PHONY: test
test: $(STAMP) ## run the test suite (9 to 10 minutes on two cores): on every core, then the load runs alone
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile -m "not exclusive"
	$(BIN)/python -m pytest -q -m exclusive

.PHONY: lint
lint: $(STAMP) ## ruff, mypy and the import layers
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy contract faults paystorm mock_gateway fault_proxy scenarios reports locustfiles tests bench
	$(BIN)/lint-imports

.PHONY: format
format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: gateway
gateway: $(STAMP) ## start the mock gateway on 127.0.0.1:8080 (Ctrl-C stops it)
	$(BIN)/paystorm gateway --port 8080 --db gateway.db

.PHONY: proxy
proxy: $(STAMP) ## the fault proxy on 127.0.0.1:8090 in front of a service: make proxy UPSTREAM=http://127.0.0.1:8080
	@test -n "$(UPSTREAM)" || { echo 'make proxy: give the service, e.g. make proxy UPSTREAM=http://127.0.0.1:8080' >&2; exit 2; }
	$(BIN)/paystorm proxy --upstream $(UPSTREAM) --port 8090

.PHONY: localstripe-example
localstripe-example: $(STAMP) ## docs/proxy.md's worked example: flash-sale's shape against localstripe through the fault proxy (40 s)
	@# localstripe on a free loopback port for the run's length; exit 1 is an SLO the faults broke.
	@log=$$(mktemp); \
	$(BIN)/python -m fault_proxy.localstripe --port 0 > $$log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; rm -f $$log' EXIT; \
	for i in $$(seq 300); do url=$$(grep -o 'http://127.0.0.1:[0-9]*' $$log); [ -n "$$url" ] && break; sleep 0.1; done; \
	test -n "$$url" || { cat $$log >&2; exit 2; }; \
	$(BIN)/paystorm run docs/examples/localstripe-flash-sale.yaml --target $$url || [ $$? -eq 1 ]

.PHONY: ui
ui: $(STAMP) ## start the gateway and Locust's web UI (scenario first, live payments, chaos beside them) on http://127.0.0.1:8089
	$(BIN)/paystorm ui

.PHONY: ui-screenshots
ui-screenshots: $(STAMP) ## retake docs/web-ui-start.png and docs/web-ui-live.png with the browser test
	PAYSTORM_SCREENSHOTS=docs $(BIN)/python -m pytest -q tests/paystorm/test_ui_browser.py

.PHONY: monitoring-check
monitoring-check: $(STAMP) ## promtool check and test the alert rules, then a live outage under Prometheus (1 min)
	promtool check rules monitoring/alerts.yml
	cd monitoring && promtool test rules alerts_test.yml
	PAYSTORM_LIVE_ALERTS=1 $(BIN)/python -m pytest -q -s tests/monitoring

.PHONY: distributed
distributed: $(STAMP) ## a scenario on Locust's master and N workers: make distributed SCENARIO=flash-sale WORKERS=2
	@test -n "$(SCENARIO)" || { echo 'make distributed: give the scenario, e.g. make distributed SCENARIO=flash-sale WORKERS=2' >&2; exit 2; }
	$(BIN)/paystorm run $(SCENARIO) --processes $(or $(WORKERS),2) $(ARGS) || [ $$? -eq 1 ]

.PHONY: capacity
capacity: $(STAMP) ## the highest rate at which a scenario's objectives hold: make capacity SCENARIO=steady [ARGS="--forecast 300"]
	@test -n "$(SCENARIO)" || { echo 'make capacity: give the scenario, e.g. make capacity SCENARIO=steady' >&2; exit 2; }
	$(BIN)/paystorm capacity $(SCENARIO) $(ARGS)

.PHONY: remedies
remedies: $(STAMP) ## measure the remedies for a scenario's top causes: make remedies SCENARIO=channel-outage-no-failover [ARGS="--repeats 5"]
	@test -n "$(SCENARIO)" || { echo 'make remedies: give the scenario, e.g. make remedies SCENARIO=channel-outage-no-failover' >&2; exit 2; }
	$(BIN)/paystorm remedies $(SCENARIO) $(ARGS)

.PHONY: compare
compare: $(STAMP) ## overlay results folders: make compare RUNS="results/a results/b" [OUT=dir]
	@test -n "$(RUNS)" || { echo 'make compare: give the runs, e.g. make compare RUNS="results/a results/b"' >&2; exit 2; }
	$(BIN)/paystorm compare $(RUNS) --out $(or $(OUT),results/compare-$(shell date -u +%Y%m%dT%H%M%SZ))

.PHONY: bench
bench: $(STAMP) ## run every benchmark side by side with its baseline; writes bench/results.md
	$(BIN)/python -m bench

.PHONY: bench-growth
bench-growth: $(STAMP) ## 1k vs 1M accounts, a 10M-payment ledger, memory after 1M payments (8 min, 8 GB of /tmp)
	$(BIN)/python -m bench --only growth

.PHONY: bench-soak
bench-soak: $(STAMP) ## 30 minutes at moderate load: gateway memory, fds and latency stay flat; writes bench/results.md
	$(BIN)/python -m bench.soak $(ARGS)

.PHONY: chaos-soak
chaos-soak: $(STAMP) ## every fault kind at random for 10 minutes, then the money and the gateway judged: make chaos-soak ARGS="--seed 7"
	$(BIN)/paystorm soak --chaos $(ARGS)

.PHONY: clean
clean: ## remove results, caches and the virtual environment
	rm -rf $(VENV) results .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info gateway.db*

.PHONY: $(SCENARIOS)
$(SCENARIOS): $(STAMP)
	$(BIN)/paystorm run $@ $(ARGS)

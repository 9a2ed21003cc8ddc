# atmp-analysis: `make report` builds the report from the demo survey, `make test` runs the suite.
# Both create the virtual environment in .venv when it is missing.
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= reports

.PHONY: help report test lint format demo bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed

report: $(VENV)/.installed ## build the report from the demo survey into reports/
	$(BIN)/atmp-report build --out $(OUT)

test: $(VENV)/.installed-dev ## lint and run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev ## format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: $(VENV)/.installed ## regenerate the synthetic demo exports in data/raw/demo/
	$(BIN)/atmp-report demo --out data/raw/demo

bench: $(VENV)/.installed-dev ## run the benchmarks: read -> clean -> projects (1k to 1M responses), forecast
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_forecast.py

clean: ## remove generated outputs (not the virtual environment)
	rm -rf data/processed/* reports reports.failed && touch data/processed/.gitkeep

# Two commands matter on a fresh clone: `make run` (the demo rebuild into the
# embedded Qdrant, its parity verdict and a sample search) and `make test`.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Nothing may try to leave the machine: no hub downloads, no telemetry.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export TOKENIZERS_PARALLELISM := false

.PHONY: help install run search test test-fast lint bench clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/qdrant-rebuild: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: left to itself pip pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/qdrant-rebuild  ## Create the virtual environment and install

run: install  ## Rebuild the demo corpus into the embedded Qdrant, then search it
	$(BIN)/qdrant-rebuild import examples/legacy/school.parquet school --replace
	PREFECT_HOME=$$(mktemp -d) $(BIN)/qdrant-rebuild rebuild
	PREFECT_HOME=$$(mktemp -d) $(BIN)/qdrant-rebuild search "how do I schedule a deployment"

test: install  ## Run every test, the end-to-end Prefect server test included
	$(BIN)/pytest -q

test-fast: install  ## Run the tests that need neither the model nor a Prefect server
	$(BIN)/pytest -q -m "not model and not e2e and not slow"

lint: install  ## ruff, the formatter check and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

bench: install  ## Time the pipeline against the bare model on the whole demo corpus
	PREFECT_HOME=$$(mktemp -d) $(BIN)/python bench/pipeline_vs_encode.py

clean:  ## Remove the virtual environment and the embedded data
	rm -rf $(VENV) data

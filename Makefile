# mlops-gitops developer commands. `make test` and `make demo` work on a fresh machine:
# they create .venv and install what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install demo lint test bench validate golden docs clean aws-smoke

help:
	@echo "make demo      the whole pipeline on this machine: a local AWS (moto), bootstrap, validate, deploy dev/staging/prod"
	@echo "make test      lint + the whole test suite (creates .venv on first use)"
	@echo "make validate  validate every config and lint every template"
	@echo "make golden    rewrite tests/golden/ (render and pr comments) from the current output (then review git diff)"
	@echo "make docs      regenerate the config references in docs/ from the JSON Schemas"
	@echo "make bench     benchmarks (not run in CI; QUICK=1: the scale table stops at 1,000 pipelines)"
	@echo "make aws-smoke opt-in: deploy one cheap pipeline of each template to a REAL account, then delete all (costs money)"
	@echo "make lint      ruff over scripts/ and tests/"
	@echo "make clean     remove .venv and caches"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The main job, embedded: a moto server on 127.0.0.1 (started and stopped here), the orchestrator
# bootstrapped into it, and its pipeline run over this repository's HEAD with demo registry data.
demo: $(STAMP)
	$(BIN)/mlopsctl local run --seed-demo

lint: $(STAMP)
	$(BIN)/ruff check scripts tests
	$(BIN)/ruff format --check scripts tests

test: lint
	$(BIN)/python -m pytest -q

validate: $(STAMP)
	$(BIN)/mlopsctl validate --templates

golden: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit/core/test_render.py tests/unit/ops/test_review.py tests/unit/config/test_mwo_migrate.py tests/unit/report/test_history.py tests/unit/report/test_notify_messages.py --update-golden
	git diff --stat -- tests/golden

# The config references in docs/ are generated from the schemas' descriptions (stdlib only, no .venv).
docs:
	$(PYTHON) scripts/gen_config_reference.py

bench: $(STAMP)
	$(BIN)/python tests/bench/run.py
	$(BIN)/python tests/bench/scale_bench.py $(if $(QUICK),--quick)
	$(BIN)/python tests/bench/deploy_bench.py
	$(BIN)/python tests/bench/demo_bench.py

# Opt-in, against the AWS account of your credentials: bootstrap under a throw-away prefix, deploy the
# cheapest pipeline of each template to one stage, check, update one, delete everything. It bills
# (README, "Smoke test on a real account"), so it refuses to start unless MLOPS_TEST_ALLOW_AWS=true.
aws-smoke: $(STAMP)
	@if [ "$$MLOPS_TEST_ALLOW_AWS" != true ]; then \
	  echo "make aws-smoke creates billed resources in the AWS account of your credentials."; \
	  echo "Run it as: MLOPS_TEST_ALLOW_AWS=true make aws-smoke   (see README.md, 'Smoke test on a real account')"; \
	  exit 2; fi
	$(BIN)/python -m pytest -m aws_verified -s -p no:cacheprovider tests/smoke

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .benchmarks

# The two Quick start commands (demo, test) plus ui. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test chaos integration ui lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/intercom-pipeline demo

# Every test except the chaos and deployment suites, which have their own targets (CI runs all three).
test: $(STAMP)
	$(BIN)/python -m pytest -m "not chaos and not integration"

# kill -9 and resume, faults, revoked tokens, races, full disks (intercom_pipeline_tests/chaos/; ~6 min).
chaos: $(STAMP)
	$(BIN)/python -m pytest -m chaos

# Postgres, dagster-daemon and dagster-webserver with two code locations (needs Debian's
# postgresql: .ci/run installs it). About 5 minutes.
integration: $(STAMP)
	$(BIN)/python -m pytest -m integration intercom_pipeline_tests/integration

ui: $(STAMP)
	$(BIN)/intercom-pipeline ui

# ruff (style, imports, common bugs), mypy (types; what it checks is set in pyproject.toml), then
# radon: no function of the package or bench rated worse than C (tests are lists of asserts, not logic).
lint: $(STAMP)
	$(BIN)/ruff check intercom_pipeline intercom_pipeline_tests bench
	$(BIN)/mypy
	@complex="$$($(BIN)/radon cc --min D --show-complexity intercom_pipeline bench)"; \
	if [ -n "$$complex" ]; then echo "Rated worse than C by radon (split these functions):"; echo "$$complex"; exit 1; fi

clean:
	rm -rf $(VENV) data/dagster_home

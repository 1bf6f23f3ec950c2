# Two commands: `make run` starts the service, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install install-test run migrate test lint typecheck format bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

# The benchmarks' comparison library comes too, so bench/ is type-checked like the rest.
install-test: $(VENV)/.installed-test

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

run: install
	$(BIN)/sipvakt serve

migrate: install
	$(BIN)/sipvakt migrate

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-test
	$(BIN)/mypy scheduler notifiers calendars config service tests scripts $(wildcard bench/*.py)

test: lint typecheck
	$(BIN)/pytest

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-test
	$(BIN)/python bench/timers.py
	$(BIN)/python bench/messages.py
	$(BIN)/python bench/testclock.py

clean:
	rm -rf $(VENV) .sipvakt .mypy_cache .ruff_cache .pytest_cache

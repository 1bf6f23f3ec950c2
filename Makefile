# Two commands: `make run` starts the service, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install install-test run migrate test lint typecheck format bench clean browser oidc-provider

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

test: lint typecheck browser oidc-provider
	$(BIN)/pytest

# The web app's browser tests drive Debian's Chromium (Playwright's own browser download cannot be used)
# and sign in through a real OpenID provider run by Node. Where either cannot be installed the tests that
# need it skip and say why, so these targets warn instead of failing.
browser:
	@test -x /usr/bin/chromium || apt-get install -y chromium \
		|| (apt-get update && apt-get install -y chromium) \
		|| echo "warning: chromium could not be installed; the browser tests will skip"

oidc-provider: tests/oidc/node_modules/.package-lock.json

tests/oidc/node_modules/.package-lock.json: tests/oidc/package.json tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund \
		|| echo "warning: the OpenID provider could not be installed; its sign-in tests will skip"

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-test
	$(BIN)/python bench/timers.py
	$(BIN)/python bench/messages.py

clean:
	rm -rf $(VENV) .sipvakt .mypy_cache .ruff_cache .pytest_cache tests/oidc/node_modules

# Two commands: `make run` starts the service, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv installs exactly what uv.lock pins, every file checked against its hash. It lives in a venv of its
# own, installed with hashes from requirements/uv.txt, so that syncing .venv never removes it.
UV_VENV := .uv
UV := $(UV_VENV)/bin/uv
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never

.PHONY: catalogs install install-test lock check-lock compose-cli run migrate test lint typecheck format bench bench-quick docs clean browser oidc-provider

# uv's own message names its command; ours names the one this project uses.
define check_lock
	@out=$$($(UV) lock --check 2>&1) || { case "$$out" in \
	  *"needs to be updated"*) echo "uv.lock does not match pyproject.toml: run make lock" >&2 ;; \
	  *) echo "$$out" >&2 ;; esac; exit 1; }
endef

install: $(VENV)/.installed catalogs

$(UV): requirements/uv.txt
	$(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements/uv.txt
	touch $@

$(VENV)/.installed: pyproject.toml uv.lock $(UV)
	$(check_lock)
	$(UV) sync --locked --quiet
	touch $@

# The message catalogs (.po, edited by people) are compiled to the .mo files the service reads.
CATALOGS := $(patsubst %.po,%.mo,$(wildcard notifiers/locale/*/LC_MESSAGES/messages.po))

catalogs: $(CATALOGS)

notifiers/locale/%.mo: notifiers/locale/%.po | $(VENV)/.installed
	$(BIN)/pybabel compile --domain messages --input-file $< --output-file $@

# The benchmarks' comparison library comes too, so bench/ is type-checked like the rest.
install-test: $(VENV)/.installed-test catalogs

$(VENV)/.installed-test: $(VENV)/.installed
	$(UV) sync --locked --quiet --extra test --extra bench
	touch $@

# After a change to the dependencies in pyproject.toml: pins what changed, keeps every other pin.
# uv's own pin is refreshed from requirements/uv.in, and rewritten only if it changed, so that an
# unchanged pin does not reinstall uv.
lock: $(UV)
	$(UV) lock
	$(UV) pip compile --quiet --generate-hashes --universal --custom-compile-command "make lock" requirements/uv.in -o $(UV_VENV)/uv.txt
	cmp -s $(UV_VENV)/uv.txt requirements/uv.txt || cp $(UV_VENV)/uv.txt requirements/uv.txt

check-lock: $(UV)
	$(check_lock)

# The Compose check in tests/deploy needs a Compose implementation: the Docker CLI's plugin where it is
# installed, otherwise Debian's docker-compose.
compose-cli:
	@docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose; }

# One line per step; the installer's own output only with SIPVAKT_LOG_LEVEL=DEBUG (or when it fails).
run:
ifeq ($(SIPVAKT_LOG_LEVEL),DEBUG)
	$(MAKE) install
else
	@$(MAKE) -q install 2>/dev/null || { echo "installing into $(VENV)/ (the first time takes a minute)"; \
	  log=$$(mktemp); $(MAKE) --no-print-directory install >$$log 2>&1 || { cat $$log; exit 1; }; rm -f $$log; }
endif
	@$(BIN)/sipvakt serve

migrate: install
	$(BIN)/sipvakt migrate

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-test
	$(BIN)/mypy scheduler notifiers calendars config service tests scripts $(wildcard bench/*.py)

test: check-lock lint typecheck compose-cli browser oidc-provider
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

# Each benchmark ends with one line per figure, `RESULT <name> <value> goal <goal> PASS|FAIL`.
BENCH_QUICK := timers messages intake pipeline import testclock burst

bench: install-test
	$(BIN)/python bench/timers.py
	$(BIN)/python bench/messages.py
	$(BIN)/python bench/testclock.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/burst.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/case_pages.py

# Each of them in under a minute, on smaller numbers.
bench-quick: install-test
	@for name in $(BENCH_QUICK); do $(BIN)/python bench/$$name.py --quick || exit 1; done

docs: install-test
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) $(UV_VENV) .sipvakt .mypy_cache .ruff_cache .pytest_cache tests/oidc/node_modules

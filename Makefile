# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv (and, as root, install the Debian packages the suite uses).
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.attnxfer-installed
APT_PACKAGES := dataset-fashion-mnist chromium chromium-driver

.PHONY: env demo test test-fast lint bench reference

$(STAMP): pyproject.toml scripts/setup-env.sh
	APT_PACKAGES="$(APT_PACKAGES)" VENV="$(VENV)" ./scripts/setup-env.sh
	touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/attnxfer demo

# The README's test command and what CI runs: lint, then the whole suite, slow tests included.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -m "slow or not slow" -q

test-fast: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/attnxfer bench

# The committed embedded reference results (results/embedded, results/tables, results/figures,
# results/dashboard, results/README.md): the pre-registered main study (studies/main.protocol.md: seeds 0-4, then its one
# extension to seeds 5-9, which ran), then its analyses, tables, figures, dashboard.
SEEDS ?= 10
reference: $(STAMP)
	$(VENV)/bin/attnxfer demo --full --seeds $(SEEDS) --out results/embedded --no-report
	$(VENV)/bin/attnxfer analyze main --seeds $(SEEDS)
	$(VENV)/bin/attnxfer collect main --seeds $(SEEDS)
	$(VENV)/bin/attnxfer figures --study main --format png,pdf
	$(VENV)/bin/attnxfer dashboard
	$(VENV)/bin/attnxfer report

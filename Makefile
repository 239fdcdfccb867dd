# spikebench: `make bench` sets up what is missing and runs the default matrix; `make test` tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# make bench SPIKES="flask fastapi" SCENARIOS=read_heavy TRIALS=5 RUNTIME=local ARGS="--quick"
SPIKES    ?=
SCENARIOS ?=
TRIALS    ?=
RUNTIME   ?= auto
ARGS      ?=

BENCH_ARGS = --runtime $(RUNTIME) \
	$(if $(SPIKES),--spikes $(subst $() ,$(comma),$(strip $(SPIKES)))) \
	$(if $(SCENARIOS),--scenarios $(subst $() ,$(comma),$(strip $(SCENARIOS)))) \
	$(if $(TRIALS),--trials $(TRIALS)) $(ARGS)
comma := ,

.PHONY: setup bench quick test lint fuzz clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/spikebench setup

bench: setup
	$(BIN)/spikebench bench $(BENCH_ARGS)

quick: setup
	$(BIN)/spikebench bench --quick $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint browser
	$(BIN)/pytest -q -m "not slow"
	@if .ci/podman/available.sh; then $(MAKE) --no-print-directory test-containers; fi

# Headless Chromium for tests/test_report_browser.py (Debian's package). Idempotent: installs only
# when missing and we are root (CI); otherwise says how, and that test skips.
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium (apt-get) for the report browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "chromium not installed: tests/test_report_browser.py will skip (sudo apt-get install chromium)"; \
	fi

# Containers smoke test (.ci/podman/smoke.sh): real images and compose through rootful podman,
# the conformance suite over HTTP against one spike container, a --quick bench through
# --runtime compose, nothing left running. `make test` runs it where podman is usable or
# installable (root + apt); SPIKEBENCH_SKIP_CONTAINERS=1 skips it there.
.PHONY: test-containers
test-containers: $(STAMP)
	.ci/podman/smoke.sh

fuzz: $(STAMP)
	$(BIN)/pytest -q -m slow tests/conformance/test_fuzz.py tests/conformance/test_differential.py

clean:
	rm -rf $(VENV) .spikebench

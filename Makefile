# spikebench: `make bench` sets up what is missing and runs the default matrix; `make test` tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# make bench SPIKES="flask fastapi" SCENARIOS=read_heavy TRIALS=5 RUNTIME=local ARGS="--quick"
# SPIKES unset: decision.toml [shortlist] candidates; SPIKES=all: every spike and variant.
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

.PHONY: setup bench quick test lint fuzz clean browser precision

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

# The harness's own benchmark: three default runs and an A/A run, then their precision figures
# (wall time, resolution paired vs unpaired, probe CV, A/A interval, harness cost, rank
# agreement). About 45 minutes on a 2-core VM; run nothing else heavy meanwhile.
ifndef PRECISION_ID
PRECISION_ID := precision-$(shell date -u +%Y%m%dT%H%M%SZ)
endif
precision: setup
	-for i in 1 2 3; do $(BIN)/spikebench bench --runtime local --run-id $(PRECISION_ID)-$$i $(ARGS); done
	-$(BIN)/spikebench bench --runtime local --capacity none --run-id $(PRECISION_ID)-aa --aa flask $(ARGS)
	$(BIN)/spikebench precision results/$(PRECISION_ID)-1 results/$(PRECISION_ID)-2 \
		results/$(PRECISION_ID)-3 results/$(PRECISION_ID)-aa | tee results/$(PRECISION_ID).md

# Python style, then the scheduled workflow: GitHub's workflow schema (check-jsonschema's vendored
# copy, no network) and zizmor's security audit (offline: the audits that need no GitHub API).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/zizmor --offline --persona=auditor .github/workflows

# CONTAINERS=1: also install what the containers smoke test needs (podman & co., with apt) and
# run it; CI (CI=true, .ci/run) does so by itself. Without either, `make test` installs nothing:
# it runs that test where podman is already installed and says how to enable it where not.
CONTAINERS ?=

# TEST_WORKERS=2: pytest-xdist workers for everything but the measuring tests (`serial`: they run
# benchmarks and judge their validity), which run after it, alone. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2

test: lint browser-check wrk-check
	$(BIN)/pytest -q -m "not slow and not serial" -n $(TEST_WORKERS) --dist loadgroup
	$(BIN)/pytest -q -m "serial and not slow"
	@if CONTAINERS="$(CONTAINERS)" .ci/podman/available.sh; then \
		$(MAKE) --no-print-directory test-containers; fi

# $(call apt_tool,PROGRAM,WHAT FOR): the Debian package of that name, installed with apt as root,
# or a line that says how. $(call ci_tool,PROGRAM,TARGET,WITHOUT IT): that install in CI only;
# elsewhere the line that says what skips without it. (No commas inside the arguments.)
apt_tool = if command -v $(1) >/dev/null 2>&1; then echo "$(1): $$(command -v $(1))"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(1) (apt-get) for $(2)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; \
	else \
		echo "cannot install $(1) here: sudo apt-get install $(1) (or your system's package)"; \
	fi
ci_tool = if command -v $(1) >/dev/null 2>&1; then :; \
	elif [ -n "$$CI" ] && [ "$$CI" != false ] && [ "$$CI" != 0 ]; then \
		$(MAKE) --no-print-directory $(2); \
	else \
		echo "$(1) not installed: $(3) ($(MAKE) $(2) installs it)"; \
	fi

# Headless Chromium for tests/test_report_browser.py (Debian's package). `make browser` installs
# it (as root, with apt); `make test` does so only in CI and otherwise says how (the test skips).
browser:
	@$(call apt_tool,chromium,the report browser test)

browser-check:
	@$(call ci_tool,chromium,browser,tests/test_report_browser.py will skip)

# wrk (Debian's package) for `spikebench crosscheck` and its test: installed like chromium,
# by `make wrk` on request or by `make test` in CI; elsewhere that test skips and says so.
wrk:
	@$(call apt_tool,wrk,spikebench crosscheck)

wrk-check:
	@$(call ci_tool,wrk,wrk,the crosscheck test will skip)

# The independent cross-check: every spike's saturated throughput by Locust and by wrk.
crosscheck: setup wrk
	$(BIN)/spikebench crosscheck $(if $(SPIKES),--spikes $(subst $() ,$(comma),$(strip $(SPIKES))))

# Containers smoke test (.ci/podman/smoke.sh): real images and compose through rootful podman,
# the conformance suite over HTTP against one spike container, a --quick bench through
# --runtime compose, nothing left running. Run by hand it installs what is missing (root + apt);
# images are cached in $$SPIKEBENCH_PODMAN_DIR (default /var/cache/spikebench-podman).
# SPIKEBENCH_SKIP_CONTAINERS=1 keeps `make test` from running it.
.PHONY: test-containers browser-check wrk wrk-check crosscheck soak
test-containers: $(STAMP)
	.ci/podman/smoke.sh

fuzz: $(STAMP)
	$(BIN)/pytest -q -m slow tests/conformance/test_fuzz.py tests/conformance/test_differential.py

clean:
	rm -rf $(VENV) .spikebench

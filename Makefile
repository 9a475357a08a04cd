# Two commands do all set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
CORES  ?= 2
# pytest-xdist workers for `make test`: one per session pipeline run (demo, real cohorts) and
# one for the tests with runs of their own (the SLURM stand-in test mostly waits on its
# polling), so three on two cores keep both cores busy
TEST_WORKERS ?= 3
# pytest-xdist workers for `make test-fast` (unit tests only: about 65 s of CPU in all)
FAST_WORKERS ?= 2

.PHONY: setup demo test test-fast lint real clean-results chromium

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

## Run the whole pipeline offline on the synthetic demo; writes results/demo/report/index.html
demo: setup
	$(BIN)/her2atlas demo-data --out data/demo
	$(BIN)/snakemake --cores $(CORES) --configfile demo/config.yaml
	@echo "demo report (SYNTHETIC data): results/demo/report/index.html"

## Set up and run the whole test suite, the one command CI runs (installs Debian's chromium for
## the report's browser tests)
test: setup chromium
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

## The unit tests only (no Snakemake runs, no browser): the edit-test loop, on two workers
test-fast: setup
	$(BIN)/python -m pytest -q -n $(FAST_WORKERS) -m "not pipeline"

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests of the report"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium could not be installed: the browser tests will be skipped"; }

lint: setup
	$(BIN)/ruff check .

## The real analysis against the offline mirror in ../shared/data
real: setup
	$(BIN)/snakemake --cores $(CORES) --configfile config/offline.yaml

clean-results:
	rm -rf results logs

# Two commands do all set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
CORES  ?= 2

.PHONY: setup demo test lint real clean-results

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

## Run the whole pipeline offline on the synthetic demo; writes results/report/index.html
demo: setup
	$(BIN)/her2atlas demo-data --out data/demo
	$(BIN)/snakemake --cores $(CORES) --configfile demo/config.yaml

## Set up and run the test suite
test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

## The real analysis against the offline mirror in ../shared/data
real: setup
	$(BIN)/snakemake --cores $(CORES) --configfile config/offline.yaml

clean-results:
	rm -rf results logs

# blaze_lab — the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PYTHONHASHSEED := 0

# Model caches default to ~/.cache/blaze_lab (BLAZE_LAB_CACHE overrides), shared by clones on one machine.

# One stamp per install set, each a superset of the one before: `make demo` installs only what the demo needs,
# `make lab` adds JupyterLab and the widgets, `make test` everything the tests need (redis, ray, lint, browser).
DEMO_EXTRAS := quant,diffusion
LAB_EXTRAS := $(DEMO_EXTRAS),jupyter
TEST_EXTRAS := $(LAB_EXTRAS),redis,ray,gpu,dev
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_LAB := $(VENV)/.installed-lab
STAMP_TEST := $(VENV)/.installed-test

# Without a GPU: install torch's CPU build first (the pinned version from PyTorch's CPU wheel index), e.g.
#   make demo TORCH_INDEX_URL=<PyTorch's CPU wheel index>
# Left empty, pip resolves the torch pin from its configured index (a CUDA build on most Linux machines).
TORCH_INDEX_URL ?=

.PHONY: setup demo test test-fast lint lab clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(if $(TORCH_INDEX_URL),$(BIN)/pip install -q -c constraints.txt torch --index-url $(TORCH_INDEX_URL))

$(STAMP_DEMO): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[$(DEMO_EXTRAS)]'
	touch $@

$(STAMP_LAB): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[$(LAB_EXTRAS)]'
	$(BIN)/python -m ipykernel install --sys-prefix --name blaze-lab --display-name "blaze-lab (.venv)" >/dev/null
	touch $@ $(STAMP_DEMO)

$(STAMP_TEST): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[$(TEST_EXTRAS)]'
	$(BIN)/python -m ipykernel install --sys-prefix --name blaze-lab --display-name "blaze-lab (.venv)" >/dev/null
	touch $@ $(STAMP_LAB) $(STAMP_DEMO)

setup: $(STAMP_TEST)

demo: $(STAMP_DEMO)
	$(BIN)/blaze-lab models prepare smollm2-135m
	$(BIN)/blaze-lab sweep experiments/quickstart.yaml

# Tests marked `smollm2` (the real model, the demo's path) run when SmolLM2 is prepared and skip otherwise;
# REQUIRE_SMOLLM2=1 (CI, after `blaze-lab models prepare smollm2-135m`) turns that skip into a failure.
test: $(STAMP_TEST)
	$(BIN)/ruff check blaze_lab tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest blaze_lab --doctest-modules -q -p no:cacheprovider
	$(if $(REQUIRE_SMOLLM2),BLAZE_LAB_REQUIRE_SMOLLM2=1) $(BIN)/python -m pytest tests notebooks --nbval-lax -p no:cacheprovider

test-fast: $(STAMP_TEST)
	$(BIN)/python -m pytest tests -m "not slow" -x -q

lint: $(STAMP_TEST)
	$(BIN)/ruff check blaze_lab tests benchmarks
	$(BIN)/ruff format --check blaze_lab tests benchmarks
	$(BIN)/mypy

# JupyterLab on 127.0.0.1 only, rooted at the repository (notebooks, results, reports and experiments all open from
# its file browser), opening the explorer; new notebooks and consoles get the blaze-lab kernel.
# --allow-root only when run as root (containers, CI machines): JupyterLab refuses to start as root otherwise.
lab: $(STAMP_LAB)
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --ServerApp.root_dir=. \
		--LabApp.default_url=/lab/tree/notebooks/explore.ipynb --MappingKernelManager.default_kernel_name=blaze-lab \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# blaze_lab — the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONHASHSEED := 0

# Model caches default to ~/.cache/blaze_lab (BLAZE_LAB_CACHE overrides), shared by clones on one machine.

.PHONY: setup demo test test-fast lint lab clean

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[quant,diffusion,jupyter,redis,ray,gpu,dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name blaze-lab --display-name "blaze-lab (.venv)" >/dev/null
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/blaze-lab models prepare smollm2-135m
	$(BIN)/blaze-lab sweep experiments/quickstart.yaml

test: $(STAMP)
	$(BIN)/ruff check blaze_lab tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest tests notebooks --nbval-lax -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow" -x -q

lint: $(STAMP)
	$(BIN)/ruff check blaze_lab tests benchmarks
	$(BIN)/ruff format --check blaze_lab tests benchmarks
	$(BIN)/mypy

# JupyterLab on 127.0.0.1 only, opening the explorer; new notebooks and consoles get the blaze-lab kernel.
# --allow-root only when run as root (containers, CI machines): JupyterLab refuses to start as root otherwise.
lab: $(STAMP)
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --ServerApp.root_dir=notebooks \
		--LabApp.default_url=/lab/tree/explore.ipynb --MappingKernelManager.default_kernel_name=blaze-lab \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

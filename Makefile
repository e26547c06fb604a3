# make demo / make test: each sets up .venv (Python 3.10) when it is missing or incomplete,
# then runs. A second run with a complete .venv installs nothing.
SHELL       := bash
.SHELLFLAGS := -eo pipefail -c

PYTHON ?= python3.10
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.neurocc-setup-done
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: setup demo test test-all bench fuzz train clean

setup: $(STAMP)

# The stamp is written last, so an interrupted install is redone; it depends on the files
# that define the environment, so changing a pin reinstalls.
$(STAMP): pyproject.toml constraints.txt Makefile
	@if ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then \
		echo "setup: creating $(VENV) with $(PYTHON)"; \
		rm -rf $(VENV); \
		$(PYTHON) -m venv $(VENV) || { echo "setup: needs Python 3.10 as '$(PYTHON)' (lava-nc 0.10 does not import on 3.11); try 'pyenv install 3.10'" >&2; exit 2; }; \
	fi
	@# A first install needs ~6 GB (torch's CUDA build alone is ~4.6 GB): check before pip
	@# half-fills the disk and stops with "No space left on device".
	@if ! $(PY) -c 'import torch' 2>/dev/null; then \
		free_kb=$$(df -Pk . | awk 'NR==2 {print $$4}'); \
		if [ "$$free_kb" -lt 7340032 ]; then \
			echo "setup: $$((free_kb / 1048576)) GB free on the disk holding $(CURDIR), a first install needs 7 GB (torch alone is ~4.6 GB); free some space and run make again" >&2; \
			exit 2; \
		fi; \
	fi
	@echo "setup: installing neurocc[dev] with pinned versions (constraints.txt); torch is ~4.6 GB the first time"
	@# Not quiet: the first setup downloads several GB, and says what (lines already satisfied
	@# are dropped).
	$(PY) -m pip --disable-pip-version-check install -c constraints.txt -e '.[dev]' 2>&1 \
		| { grep -v -e "^WARNING: Location 'file:" -e "^Requirement already satisfied" || true; }
	@# NeuroBench 2.3.0 (the metrics neurocc must equal) pins torchaudio/tonic it does not need
	@# for its metrics: installed without its dependencies, beside this stack.
	$(PIP) install -c constraints.txt --no-deps neurobench==2.3.0 tqdm==4.70.1 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
	$(PY) -c 'import numpy, nir, h5py, lava.magma, snntorch, torch, sklearn, hypothesis, sanafe, neurobench, numba, distributed, neurocc'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/neurocc demo

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# Everything, including retraining-reproducibility and full-split checks.
test-all: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m neurocc.benchmarks.run

# The fuzz campaign: 10,808 cases in seven categories (tests/fuzz_campaign.py), counts into
# benchmarks/results/fuzz.{json,md}; make test runs a bounded number of the same cases.
fuzz: $(STAMP)
	$(PY) tests/fuzz_campaign.py

train: $(STAMP)
	$(VENV)/bin/neurocc zoo train digits

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

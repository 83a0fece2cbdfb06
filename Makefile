# Quick start:  make demo   (set up, then train the default model)
#               make test   (set up, then run lint and the test suite)
# Both are idempotent: set-up steps run only when their inputs change.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_OUT ?= runs/demo

.PHONY: demo test lint setup data clean bazel

demo: setup data
	$(BIN)/tf-pe train --out=$(DEMO_OUT)

test: setup data lint
	$(BIN)/python -m pytest -q tests

lint: setup
	$(BIN)/ruff check tf_pe tests

setup: $(STAMP)

$(STAMP): setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

data: $(FASHION_MNIST)

$(FASHION_MNIST):
	$(SUDO) apt-get install -y dataset-fashion-mnist || \
	  ($(SUDO) apt-get update && $(SUDO) apt-get install -y dataset-fashion-mnist)

clean:
	rm -rf $(VENV) runs build *.egg-info

bazel:
	bazel build //:tf_pe

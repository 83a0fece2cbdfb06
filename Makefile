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
OP_LIB := tf_pe/ops/_sparse_channel_conv2d_ops.so

.PHONY: demo test lint setup data clean bazel op

demo: setup data
	$(BIN)/tf-pe train --out=$(DEMO_OUT)

test: setup data lint
	$(BIN)/python -m pytest -q tests

lint: setup
	$(BIN)/ruff check tf_pe tests

setup: $(STAMP) $(OP_LIB)

# The custom op library, compiled with g++ and tf.sysconfig flags after the install
# (pip's isolated build environment has no TensorFlow). See tf_pe/ops/build.py.
op: $(OP_LIB)

$(OP_LIB): $(STAMP) $(wildcard tf_pe/ops/cc/*.cc tf_pe/ops/cc/*.h tf_pe/ops/cc/*.cu.cc) tf_pe/ops/build.py
	$(BIN)/python -m tf_pe.ops.build

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

# Offline with Debian's bazel-bootstrap 4.2.3; @local_tf is configured from the
# TensorFlow that $(BIN)/python imports (tf_pe/ops/bazel/tf_configure.bzl).
bazel: setup
	PYTHON_BIN_PATH=$(abspath $(BIN))/python bazel build //:tf_pe //tf_pe/ops:_sparse_channel_conv2d_ops.so

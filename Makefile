# Quick start:  make demo   (set up, train the default model, export it to TFLite)
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

.PHONY: demo test lint setup data clean bazel bazel-tool cuda op

demo: setup data
	$(BIN)/tf-pe train --out=$(DEMO_OUT)
	$(BIN)/tf-pe export $(DEMO_OUT) --format=tflite

# `bazel` first: tests/ops/test_bazel_build.py loads the library Bazel built.
test: setup data lint bazel
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
# Bazel builds the CPU library (no CUDA rules); the pip build adds CUDA.
bazel: setup bazel-tool
	PYTHON_BIN_PATH=$(abspath $(BIN))/python bazel build //:tf_pe //tf_pe/ops:_sparse_channel_conv2d_ops.so

# Debian's bazel-bootstrap, installed with apt when no `bazel` is on PATH.
bazel-tool:
	@command -v bazel >/dev/null || $(SUDO) apt-get install -y bazel-bootstrap || \
	  ($(SUDO) apt-get update && $(SUDO) apt-get install -y bazel-bootstrap)

# The CUDA kernels' standalone harness (tf_pe/ops/cuda): the host emulation always,
# the real kernels where a CUDA device is usable (exit status 77: none, skipped).
CUDA_HARNESS := build/cuda/harness
cuda: $(CUDA_HARNESS)
	$(CUDA_HARNESS) --mode=host
	$(CUDA_HARNESS) --mode=gpu || [ $$? -eq 77 ]

$(CUDA_HARNESS): tf_pe/ops/cuda/harness.cu.cc tf_pe/ops/cuda/reference.h \
		tf_pe/ops/cc/sparse_channel_conv2d.h tf_pe/ops/cc/sparse_channel_conv2d_gpu.h \
		tf_pe/ops/cc/sparse_channel_conv2d_gpu.cu.cc
	mkdir -p $(dir $@)
	nvcc -std=c++17 -O2 -DGOOGLE_CUDA=1 -Itf_pe/ops/cc -x cu tf_pe/ops/cuda/harness.cu.cc \
	  tf_pe/ops/cc/sparse_channel_conv2d_gpu.cu.cc -o $@

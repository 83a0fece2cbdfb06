"""The pip build of the op library (tf_pe/ops/build.py): source selection, the CUDA
switch, and, where nvcc is found, a library that registers the GPU kernels, loads
on this machine and still computes the CPU op correctly."""

import os
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import kernels

from tf_pe.ops import build, compact_from_mask, loader
from tf_pe.sparsity import patterns

OPS = ("TfPe>SparseChannelConv2D", "TfPe>SparseChannelConv2DBackpropInput",
       "TfPe>SparseChannelConv2DBackpropKernel")


def test_cuda_sources_stay_out_of_the_cpu_sources():
    names = {os.path.basename(p) for p in build.SOURCES}
    assert "sparse_channel_conv2d_op.cc" in names
    assert {os.path.basename(p) for p in build.CUDA_SOURCES} == {
        "sparse_channel_conv2d_gpu.cu.cc"}
    assert {os.path.basename(p) for p in build.GPU_SOURCES} == {
        "sparse_channel_conv2d_gpu_kernels.cc"}
    assert not names & {os.path.basename(p) for p in build.CUDA_SOURCES + build.GPU_SOURCES}


def test_tf_pe_cuda_0_disables_cuda(monkeypatch):
    monkeypatch.setenv("TF_PE_CUDA", "0")
    assert build.find_nvcc() is None


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on PATH")
def test_cuda_commands_take_tensorflows_standard_and_link_the_static_runtime(tmp_path,
                                                                             monkeypatch):
    monkeypatch.delenv("TF_PE_CUDA", raising=False)
    commands, objects, link = build.cuda_commands(build.find_nvcc(), str(tmp_path))
    assert len(commands) == len(objects) == 2
    flags = tf.sysconfig.get_compile_flags()
    standard = next(f for f in flags if f.lstrip("-").startswith("std="))
    assert f"-std={standard.split('=', 1)[1]}" in commands[0]
    assert all("-DGOOGLE_CUDA=1" in c for c in commands)
    assert os.path.isfile(os.path.join(link[0][2:], "libcudart_static.a"))


def _fake_compiler(tmp_path, macros):
    """A `CXX` that prints `macros` for any arguments, as `g++ -dM -E` would."""
    path = tmp_path / "fake-g++"
    path.write_text(f"#!/bin/sh\nprintf '%s\\n' {macros!r}\n")
    path.chmod(0o755)
    return str(path)


def test_optimisation_flags_turn_off_avx512fp16_where_native_enables_it(tmp_path,
                                                                         monkeypatch):
    monkeypatch.delenv("TF_PE_OP_CFLAGS", raising=False)
    monkeypatch.setenv("CXX", _fake_compiler(tmp_path, "#define __AVX512FP16__ 1"))
    assert build.optimisation_flags() == ["-O3", "-march=native", "-mno-avx512fp16"]
    monkeypatch.setenv("CXX", _fake_compiler(tmp_path, "#define __AVX512F__ 1"))
    assert build.optimisation_flags() == ["-O3", "-march=native"]


def test_op_cflags_replace_the_default_flags(monkeypatch):
    monkeypatch.setenv("TF_PE_OP_CFLAGS", "-O2 -mavx2 -mfma")
    assert build.optimisation_flags() == ["-O2", "-mavx2", "-mfma"]
    assert build.command()[3:6] == ["-O2", "-mavx2", "-mfma"]


def needs_cuda_library(test):
    """Skips `test` unless the installed library was built with nvcc."""
    test = pytest.mark.skipif(loader.load() is None, reason="op library not built (make setup)")(
        test)
    return pytest.mark.skipif(
        shutil.which("nvcc") is None or os.environ.get("TF_PE_CUDA") == "0",
        reason="the library is built without CUDA (no nvcc, or TF_PE_CUDA=0)")(test)


@needs_cuda_library
@pytest.mark.skipif(shutil.which("nm") is None, reason="nm (binutils) is not on PATH")
def test_cuda_library_keeps_its_cuda_runtime_private():
    """No CUDA runtime symbol is left for TensorFlow's own runtime (another CUDA
    version, exported by libtensorflow_framework) to satisfy, and none is exported."""
    for mode in ("--undefined-only", "--defined-only"):
        symbols = subprocess.run(["nm", "-D", mode, loader.library_path()], capture_output=True,
                                 text=True, check=True).stdout.split()
        assert not [s for s in symbols if s.startswith(("cuda", "__cuda"))], mode


@needs_cuda_library
def test_cuda_library_registers_gpu_kernels_and_cpu_op_agrees():
    for op in OPS:
        registered = kernels.get_registered_kernels_for_op(op).kernel
        devices = {(k.device_type, tuple(k.constraint[0].allowed_values.list.type))
                   for k in registered}
        float_types = ((tf.float32.as_datatype_enum,), (tf.float64.as_datatype_enum,))
        assert devices == {(d, t) for d in ("CPU", "GPU") for t in float_types}, op
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 9, 7, 12)).astype("float32")
    kernel = rng.normal(size=(3, 3, 12, 10)).astype("float32")
    mask = patterns.connection_mask(12, 10, 0.25, "random", seed=0)
    compact, indptr, indices = compact_from_mask(kernel, mask)
    got = loader.load().tf_pe_sparse_channel_conv2d(x, compact, indptr, indices, strides=[2, 1],
                                                    padding="SAME", dilations=[1, 1])
    want = tf.nn.conv2d(x, kernel * mask[None, None], strides=[2, 1], padding="SAME")
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4)

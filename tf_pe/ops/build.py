"""Compiles the op library with the system compiler: `python -m tf_pe.ops.build`.

The compile and link flags (include dir, `_GLIBCXX_USE_CXX11_ABI`, C++ standard,
`libtensorflow_framework`) come from `tf.sysconfig`, never hard-coded, so the
library matches the installed TensorFlow. TensorFlow must therefore be importable
when this runs: `make setup` runs it after `pip install -e .` (pip's isolated
build environment has no TensorFlow); `setup.py build_op` calls the same code.

Environment:
    CXX: the compiler. Defaults to `g++`.
    TF_PE_OP_CFLAGS: optimisation flags. Defaults to `-O3 -march=native` (the
        library is built on the machine that runs it; set `-O3 -mavx2 -mfma` or
        similar for a portable build).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from glob import glob

HERE = os.path.dirname(os.path.abspath(__file__))
# Every C++ source of the CPU library (CUDA sources, `*.cu.cc`, are compiled by nvcc).
SOURCES = sorted(p for p in glob(os.path.join(HERE, "cc", "*.cc")) if not p.endswith(".cu.cc"))
OUTPUT = os.path.join(HERE, "_sparse_channel_conv2d_ops.so")


def command(output: str = OUTPUT) -> list[str]:
    """The compiler command line."""
    import tensorflow as tf

    cxx = os.environ.get("CXX", "g++")
    opt = shlex.split(os.environ.get("TF_PE_OP_CFLAGS", "-O3 -march=native"))
    return [cxx, "-shared", "-fPIC", *opt, "-Wno-deprecated-declarations", *SOURCES,
            "-o", output, *tf.sysconfig.get_compile_flags(), *tf.sysconfig.get_link_flags()]


def build(output: str = OUTPUT, verbose: bool = True) -> str:
    """Compiles the library to `output` (atomically) and returns its path.

    Raises:
        subprocess.CalledProcessError: when the compiler fails.
    """
    tmp = output + ".tmp"
    cmd = command(tmp)
    if verbose:
        print(" ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)
    os.replace(tmp, output)
    return output


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else OUTPUT)

"""Compiles the op library with the system compiler: `python -m tf_pe.ops.build`.

The compile and link flags (include dir, `_GLIBCXX_USE_CXX11_ABI`, C++ standard,
`libtensorflow_framework`) come from `tf.sysconfig`, never hard-coded, so the
library matches the installed TensorFlow. TensorFlow must therefore be importable
when this runs: `make setup` runs it after `pip install -e .` (pip's isolated
build environment has no TensorFlow); `setup.py build_op` calls the same code.

CUDA: where `nvcc` is found, the CUDA kernels (`cc/*.cu.cc`, compiled by nvcc) and
their TensorFlow GPU registrations (`cc/*_gpu_kernels.cc`, compiled by `CXX` with
`-DGOOGLE_CUDA=1`, the wheel's headers and the toolkit's `cuda_runtime.h`) are
linked in with the toolkit's static CUDA runtime, kept private to the library
(TensorFlow's framework library exports its own CUDA runtime entry points, for the
CUDA version TensorFlow was built with), so the library still loads where there is
no GPU or driver. Checked with the TensorFlow 2.21 wheel (built with CUDA
12.5.1) and nvcc 13.0: it compiles, links, loads on a CPU-only machine and the CPU
kernels give the same results. It was never run on a GPU here: the GPU kernels
need a driver for the toolkit's CUDA version (CUDA 13: driver >= 580) beside the
one TensorFlow uses, and the standalone harness (`make cuda`) is the check to run
there first.

Environment:
    CXX: the compiler. Defaults to `g++`.
    TF_PE_OP_CFLAGS: optimisation flags. Defaults to `-O3 -march=native` (the
        library is built on the machine that runs it; set `-O3 -mavx2 -mfma` or
        similar for a portable build), plus `-mno-avx512fp16` where `-march=native`
        enables AVX512-FP16: the Eigen headers of the TensorFlow 2.21 wheel do not
        compile with it under g++ 12 (`PacketMathFP16.h`: "expected initializer
        before '<' token"), and the kernels do not use half precision.
    NVCC: the CUDA compiler. Defaults to `nvcc` on PATH.
    TF_PE_CUDA: `0` builds the CPU-only library even where nvcc is found.
    TF_PE_NVCC_FLAGS: nvcc's optimisation and target flags. Defaults to `-O3`
        (nvcc's default GPU architecture; add e.g. `-arch=sm_90` for an H100).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from glob import glob

HERE = os.path.dirname(os.path.abspath(__file__))
CC_DIR = os.path.join(HERE, "cc")
# nvcc compiles the `*.cu.cc` files; the `*_gpu_kernels.cc` files need GOOGLE_CUDA.
CUDA_SOURCES = sorted(glob(os.path.join(CC_DIR, "*.cu.cc")))
GPU_SOURCES = sorted(glob(os.path.join(CC_DIR, "*_gpu_kernels.cc")))
# Every other C++ source is part of the CPU library.
SOURCES = sorted(p for p in glob(os.path.join(CC_DIR, "*.cc"))
                 if p not in CUDA_SOURCES and p not in GPU_SOURCES)
OUTPUT = os.path.join(HERE, "_sparse_channel_conv2d_ops.so")


def optimisation_flags() -> list[str]:
    """`TF_PE_OP_CFLAGS`, or the default flags described in the module docstring.

    The Bazel build's configure rule (`bazel/tf_configure.bzl`) calls this too.
    """
    if "TF_PE_OP_CFLAGS" in os.environ:
        return shlex.split(os.environ["TF_PE_OP_CFLAGS"])
    flags = ["-O3", "-march=native"]
    macros = subprocess.run(
        [os.environ.get("CXX", "g++"), *flags, "-dM", "-E", "-x", "c++", os.devnull],
        capture_output=True, text=True, check=False).stdout
    if "__AVX512FP16__" in macros:
        flags.append("-mno-avx512fp16")
    return flags


def command(output: str = OUTPUT, objects: tuple[str, ...] = (),
            link: tuple[str, ...] = ()) -> list[str]:
    """The compiler command line of the library, with extra `objects` and `link` flags."""
    import tensorflow as tf

    cxx = os.environ.get("CXX", "g++")
    opt = optimisation_flags()
    # `link` comes before TensorFlow's flags: libtensorflow_framework exports a CUDA
    # runtime stub (TensorFlow's own CUDA version) that must not satisfy our symbols.
    return [cxx, "-shared", "-fPIC", *opt, "-Wno-deprecated-declarations", *SOURCES, *objects,
            "-o", output, *tf.sysconfig.get_compile_flags(), *link,
            *tf.sysconfig.get_link_flags()]


def find_nvcc() -> str | None:
    """The nvcc to use, or None when there is none or `TF_PE_CUDA=0`."""
    if os.environ.get("TF_PE_CUDA", "1") == "0":
        return None
    return shutil.which(os.environ.get("NVCC", "nvcc"))


def cuda_root(nvcc: str) -> str:
    """The toolkit directory, as nvcc itself reports it (`TOP` in `--dryrun`)."""
    result = subprocess.run([nvcc, "--dryrun", "-c", "-x", "cu", os.devnull, "-o", os.devnull],
                            capture_output=True, text=True, check=True)
    match = re.search(r"^#\$ TOP=(.+)$", result.stdout + result.stderr, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"{nvcc} --dryrun did not report its toolkit directory (TOP)")
    return os.path.realpath(match.group(1).strip())


def _toolkit_dir(root: str, kind: str) -> str:
    """`root/include` or `root/lib64`, else the `targets/x86_64-linux` one."""
    plain = os.path.join(root, "include" if kind == "include" else "lib64")
    target = os.path.join(root, "targets", "x86_64-linux", kind)
    return plain if os.path.isdir(plain) else target


def cuda_commands(nvcc: str, workdir: str) -> tuple[list[list[str]], list[str], list[str]]:
    """The CUDA compile commands, the objects they write and the link flags.

    Returns:
        (commands, objects, link flags); the commands are independent of each other.
    """
    import tensorflow as tf

    root = cuda_root(nvcc)
    tf_flags = tf.sysconfig.get_compile_flags()
    # The C++ standard and ABI macros of TensorFlow's build (the CUDA sources include
    # no TensorFlow header, so its include path is not needed there).
    std = [f"-std={f.split('=', 1)[1]}" for f in tf_flags if f.lstrip("-").startswith("std=")]
    defines = [f for f in tf_flags if f.startswith("-D")]
    nvcc_opt = shlex.split(os.environ.get("TF_PE_NVCC_FLAGS", "-O3"))
    cxx = os.environ.get("CXX", "g++")
    opt = optimisation_flags()
    commands, objects = [], []
    for source in CUDA_SOURCES:
        obj = os.path.join(workdir, os.path.basename(source) + ".o")
        commands.append([nvcc, "-c", "-x", "cu", *std, *defines, "-DGOOGLE_CUDA=1", *nvcc_opt,
                         "-Xcompiler", "-fPIC", source, "-o", obj])
        objects.append(obj)
    for source in GPU_SOURCES:
        obj = os.path.join(workdir, os.path.basename(source) + ".o")
        commands.append([cxx, "-c", "-fPIC", *opt, "-Wno-deprecated-declarations",
                         "-DGOOGLE_CUDA=1", f"-I{_toolkit_dir(root, 'include')}", source, "-o",
                         obj, *tf_flags])
        objects.append(obj)
    # The toolkit's static runtime, bound inside the library and not exported, so
    # that the kernels nvcc compiled always meet the runtime of the same version.
    link = [f"-L{_toolkit_dir(root, 'lib')}", "-l:libcudart_static.a",
            "-Wl,--exclude-libs,libcudart_static.a", "-ldl", "-lrt", "-lpthread"]
    return commands, objects, link


def _run_all(commands: list[list[str]], verbose: bool) -> None:
    """Runs independent commands concurrently; raises on the first failure."""
    for cmd in commands:
        if verbose:
            print(" ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
    running = [(cmd, subprocess.Popen(cmd)) for cmd in commands]
    failed = [(cmd, proc.wait()) for cmd, proc in running]
    for cmd, code in failed:
        if code != 0:
            raise subprocess.CalledProcessError(code, cmd)


def build(output: str = OUTPUT, verbose: bool = True) -> str:
    """Compiles the library to `output` (atomically) and returns its path.

    With nvcc (see the module docstring) the CUDA kernels are compiled and linked in;
    a CUDA compile error fails the build (`TF_PE_CUDA=0` builds without CUDA).

    Raises:
        subprocess.CalledProcessError: when a compiler fails.
    """
    tmp = output + ".tmp"
    nvcc = find_nvcc()
    with tempfile.TemporaryDirectory(prefix="tf_pe_op_") as workdir:
        objects: list[str] = []
        link: list[str] = []
        if nvcc is not None:
            if verbose:
                print(f"tf_pe: building the CUDA kernels with {nvcc} (TF_PE_CUDA=0 skips them)",
                      file=sys.stderr)
            commands, objects, link = cuda_commands(nvcc, workdir)
            _run_all(commands, verbose)
        _run_all([command(tmp, tuple(objects), tuple(link))], verbose)
    os.replace(tmp, output)
    return output


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else OUTPUT)

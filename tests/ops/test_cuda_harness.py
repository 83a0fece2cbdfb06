"""The CUDA kernels' standalone harness (tf_pe/ops/cuda/harness.cu.cc).

The harness compares the kernels' per-thread code with an independent dense C++
reference (tf_pe/ops/cuda/reference.h) on random problems. Built with g++, it runs
that code on the host, thread by thread (an emulated launch); built with nvcc
(skipped where nvcc is not on PATH) it also compiles the real kernels, which run
only where `nvidia-smi` lists a GPU.
"""

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CC_DIR = os.path.join(ROOT, "tf_pe", "ops", "cc")
HARNESS = os.path.join(ROOT, "tf_pe", "ops", "cuda", "harness.cu.cc")
KERNELS = os.path.join(CC_DIR, "sparse_channel_conv2d_gpu.cu.cc")
PROBLEMS = 200
# The six comparisons ({float, double} x {forward, input gradient, kernel gradient}).
SUMMARY = re.compile(r"^(host|gpu) (float|double) (.+): (\d+) problems, max error (\S+) "
                     r"\(tolerance (\S+)\), (\d+) failed$", re.MULTILINE)


def gpu_listed() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    result = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return result.returncode == 0 and "GPU" in result.stdout


def compile_harness(command, cwd):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]


def run_harness(binary, mode):
    return subprocess.run([binary, f"--mode={mode}", f"--problems={PROBLEMS}"],
                          capture_output=True, text=True, timeout=300, check=False)


def assert_all_compared(result, mode):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    rows = SUMMARY.findall(result.stdout)
    assert {(row[1], row[2]) for row in rows} == {
        (t, part) for t in ("float", "double")
        for part in ("forward", "input gradient", "kernel gradient")}
    for row in rows:
        assert row[0] == mode
        assert int(row[3]) == PROBLEMS and int(row[6]) == 0
        assert float(row[4]) <= float(row[5])
    validation = re.search(r"validation: (\d+) checks, 0 failed", result.stdout)
    assert validation and int(validation.group(1)) > PROBLEMS
    assert result.stdout.rstrip().endswith("PASS")


@pytest.fixture(scope="module")
def host_harness(tmp_path_factory):
    """The harness built with the host compiler (no CUDA): host emulation only."""
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        pytest.skip(f"no C++ compiler {cxx!r} on PATH")
    binary = str(tmp_path_factory.mktemp("harness") / "harness_host")
    compile_harness([cxx, "-std=c++17", "-O2", "-Wall", "-Wextra", f"-I{CC_DIR}", "-x", "c++",
                     HARNESS, "-o", binary], ROOT)
    return binary


@pytest.fixture(scope="module")
def nvcc_harness(tmp_path_factory):
    """The harness and the CUDA kernels built with nvcc."""
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not on PATH (install the CUDA toolkit to build the CUDA kernels)")
    binary = str(tmp_path_factory.mktemp("harness") / "harness")
    compile_harness(["nvcc", "-std=c++17", "-O2", "-DGOOGLE_CUDA=1", f"-I{CC_DIR}", "-x", "cu",
                     HARNESS, KERNELS, "-o", binary], ROOT)
    return binary


def test_host_emulation_agrees_with_reference(host_harness):
    assert_all_compared(run_harness(host_harness, "host"), "host")


def test_nvcc_build_host_emulation_agrees_with_reference(nvcc_harness):
    assert_all_compared(run_harness(nvcc_harness, "host"), "host")


@pytest.mark.skipif(not gpu_listed(), reason="nvidia-smi lists no GPU")
def test_gpu_kernels_agree_with_reference(nvcc_harness):
    assert_all_compared(run_harness(nvcc_harness, "gpu"), "gpu")


@pytest.mark.skipif(gpu_listed(), reason="a GPU is present (the comparison runs instead)")
def test_gpu_mode_reports_a_skip_without_a_device(nvcc_harness):
    result = run_harness(nvcc_harness, "gpu")
    assert result.returncode == 77, result.stdout + result.stderr
    assert result.stdout.startswith("SKIP: no usable CUDA device")


def test_host_build_refuses_gpu_mode(host_harness):
    result = run_harness(host_harness, "gpu")
    assert result.returncode == 77 and "needs the nvcc build" in result.stdout

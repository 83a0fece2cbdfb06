"""The Bazel-built op library loads and agrees with the pip-built one.

Runs where `bazel` (Debian's bazel-bootstrap) is installed: it builds
//tf_pe/ops:_sparse_channel_conv2d_ops.so offline and loads it in a subprocess (two
libraries registering the same op cannot share a process). `make test` installs
bazel-bootstrap when it is missing and runs `make bazel` before pytest, so in CI
this test finds Bazel's cache warm and runs; it skips only where bazel is absent.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tf_pe.ops import compact_from_mask, loader
from tf_pe.sparsity import patterns

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = "//tf_pe/ops:_sparse_channel_conv2d_ops.so"

pytestmark = [
    pytest.mark.skipif(shutil.which("bazel") is None,
                       reason="bazel is not installed (apt-get install bazel-bootstrap; "
                              "then `make bazel`)"),
    pytest.mark.skipif(loader.load() is None, reason="pip-built op library missing"),
]


def test_bazel_library_agrees_with_pip_library(tmp_path):
    env = {**os.environ, "PYTHON_BIN_PATH": sys.executable}
    build = subprocess.run(["bazel", "build", TARGET], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    library = os.path.join(ROOT, "bazel-bin", "tf_pe", "ops", "_sparse_channel_conv2d_ops.so")
    assert os.path.isfile(library)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 6, 8)).astype("float32")
    kernel = rng.normal(size=(3, 3, 8, 6)).astype("float32")
    mask = patterns.connection_mask(8, 6, 0.4, "block", seed=0)
    compact, indptr, indices = (t.numpy() for t in compact_from_mask(kernel, mask))
    np.savez(tmp_path / "args.npz", x=x, compact=compact, indptr=indptr, indices=indices)
    want = loader.load().tf_pe_sparse_channel_conv2d(x, compact, indptr, indices,
                                                     strides=[2, 1], padding="SAME").numpy()
    np.save(tmp_path / "want.npy", want)
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        lib = tf.load_op_library({library!r})
        a = np.load({str(tmp_path / "args.npz")!r})
        got = lib.tf_pe_sparse_channel_conv2d(a["x"], a["compact"], a["indptr"], a["indices"],
                                              strides=[2, 1], padding="SAME").numpy()
        np.testing.assert_allclose(got, np.load({str(tmp_path / "want.npy")!r}), rtol=1e-6,
                                   atol=1e-6)
        print("AGREE")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, timeout=120)
    assert "AGREE" in result.stdout, result.stderr[-2000:]

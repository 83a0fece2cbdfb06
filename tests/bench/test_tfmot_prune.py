"""The tfmot baseline script, in its own process with tf_keras (the `bench` extra)."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

needs_tfmot = pytest.mark.skipif(
    not (importlib.util.find_spec("tensorflow_model_optimization")
         and importlib.util.find_spec("tf_keras")),
    reason="the bench extra (tensorflow-model-optimization, tf-keras) is not installed")


@needs_tfmot
def test_prunes_to_the_density_and_writes_a_row(tmp_path, fashion_data_dir):
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "tf_pe.bench.tfmot_prune", "--model=lenet_300_100",
         "--density=0.1", "--epochs=1", "--take=512", "--eval-take=256", "--batch-size=64",
         "--prune-period=2", f"--data-dir={fashion_data_dir}", f"--out={tmp_path}"],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads((tmp_path / "tfmot.json").read_text())
    kernels = 784 * 300 + 300 * 100 + 100 * 10
    assert row["params"] == kernels + 410
    assert row["active"] - 410 <= round(0.1 * kernels) + 3  # biases may be nonzero
    assert row["effective_macs"] == pytest.approx(0.1 * kernels, rel=0.01)
    assert 0 <= row["accuracy"] <= 1


def test_refuses_to_run_without_legacy_keras(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    done = subprocess.run([sys.executable, "-m", "tf_pe.bench.tfmot_prune", f"--out={tmp_path}"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0 and "TF_USE_LEGACY_KERAS=1" in done.stderr

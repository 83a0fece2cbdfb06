"""The grouped path of `SparseChannelConv2D` under `MirroredStrategy` (two logical
CPUs, in a subprocess: `grouped_run.py`): it trains to the same weights as masked
dense, through a densification that ends the traced grouped structure."""

import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_grouped_trains_like_masked_dense_on_two_replicas(tmp_path):
    out = tmp_path / "grouped.json"
    done = subprocess.run([sys.executable, "-m", "tests.distribute.grouped_run", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(out.read_text())
    grouped, dense = results["grouped"], results["dense"]
    assert grouped["grouped_traced"] > 0 and dense["grouped_traced"] == grouped["grouped_traced"]
    assert grouped["replicas_equal"] and dense["replicas_equal"]
    assert grouped["mask"] == dense["mask"]
    assert np.mean(grouped["mask"]) > 0.25  # densified during training
    np.testing.assert_allclose(grouped["loss"], dense["loss"], rtol=1e-5)
    np.testing.assert_allclose(grouped["kernel"], dense["kernel"], rtol=1e-4, atol=1e-5)

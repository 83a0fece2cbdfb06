"""tf_pe layers and callbacks under `MirroredStrategy` on two logical CPU devices.

The training runs once, in a subprocess (`mirrored_run.py`: logical devices must
be set before TensorFlow initializes); the tests read what it recorded after
every step on every replica."""

import json
import os
import subprocess
import sys

import pytest

from tests.distribute import cases

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MASKED = ("MaskedConv2D", "MaskedDepthwiseConv2D", "MaskedDense")
# Which layers' masks each callback moves.
TARGETS = {"Densify": ("SparseChannelConv2D",), "DensifyEvery": ("SparseChannelConv2D",),
           "DynamicSparseReparam": MASKED, "SET": MASKED, "GradualMagnitudePruning": MASKED}
CASE_OF = {name: case for case, names in cases.CASES.items() for name in names}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    out = tmp_path_factory.mktemp("mirrored") / "results.json"
    done = subprocess.run([sys.executable, "-m", "tests.distribute.mirrored_run", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())


def test_two_replicas_and_the_op(recorded):
    assert recorded["replicas"] == 2
    assert recorded["op_loaded"], "SparseChannelConv2D ran the fallback, not the custom op"


@pytest.mark.parametrize("case", list(cases.CASES))
def test_every_variable_is_identical_on_both_replicas_after_every_step(recorded, case):
    result = recorded["cases"][case]
    assert result["steps"] == cases.STEPS
    assert result["unequal"] == []
    assert result["stale_kernel"] == []


@pytest.mark.parametrize("case", list(cases.CASES))
def test_every_layer_trains(recorded, case):
    trained = recorded["cases"][case]["trained"]
    assert set(trained) == set(cases.LAYERS)
    assert all(trained.values())


@pytest.mark.parametrize("callback", list(TARGETS))
def test_callback_moves_masks_under_the_strategy(recorded, callback):
    changes = recorded["cases"][CASE_OF[callback]]["mask_changes"]
    assert all(changes[layer] >= 1 for layer in TARGETS[callback])


def test_summaries_under_the_strategy(recorded):
    dsr = recorded["cases"][CASE_OF["DynamicSparseReparam"]]
    assert dsr["summaries_written"] >= 1
    gmp = recorded["cases"]["gmp"]
    assert 0 < gmp["summary_active"] < dsr["summary_active"]  # GMP pruned to 10%


def test_lre_amc_compresses_a_mirrored_model(recorded):
    lre = recorded["lre_amc"]
    assert lre["params"][1] < lre["params"][0]
    assert lre["replicated"] and lre["identical"]

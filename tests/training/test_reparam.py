"""Methods dsr, static, set and gmp: building, config checks, and a CLI run."""

import json

import numpy as np
import pytest

from tf_pe import cli
from tf_pe.callbacks import SET, DynamicSparseReparam, GradualMagnitudePruning
from tf_pe.sparsity import find_sparse_layers, summary
from tf_pe.training import TrainConfig, get_method


def build(method, **kwargs):
    config = TrainConfig(model="lenet_300_100", method=method, **kwargs)
    return get_method(method).build(config, (28, 28, 1), 10)


@pytest.mark.parametrize(("method", "callback"), [
    ("dsr", DynamicSparseReparam), ("set", SET), ("static", None),
    ("gmp", GradualMagnitudePruning)])
def test_methods_build_masked_models_and_their_callback(method, callback, tmp_path):
    model, callbacks = build(method, density=0.05, out=str(tmp_path))
    assert [layer.name for layer in find_sparse_layers(model)] == ["fc1", "fc2", "logits"]
    assert [type(c) for c in callbacks] == ([callback] if callback else [])
    total = summary(model, print_fn=None).total
    kernels = 784 * 300 + 300 * 100 + 100 * 10
    density = 1.0 if method == "gmp" else 0.05
    assert total.active - 410 == pytest.approx(density * kernels, abs=3)  # + dense biases


def test_erk_and_keep_dense_options(tmp_path):
    model, _ = build("dsr", density=0.05, distribution="erk", keep_last_dense=True,
                     out=str(tmp_path))
    assert [layer.name for layer in find_sparse_layers(model)] == ["fc1", "fc2"]
    fc1, fc2 = (layer.mask.numpy().mean() for layer in find_sparse_layers(model))
    assert fc2 > fc1  # ERK: the smaller layer is denser


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"distribution": "normal"}, "`distribution`"), ({"granularity": "row"}, "`granularity`"),
    ({"reparam_period": 0}, "`reparam_period`"), ({"prune_fraction": 1.0}, "`prune_fraction`"),
    ({"initial_threshold": 0.0}, "`initial_threshold`"), ({"prune_end": 0.0}, "`prune_end`"),
])
def test_bad_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_cli_dsr_run_writes_report_and_history(tmp_path, fashion_data_dir, capsys):
    out = tmp_path / "dsr"
    status = cli.main([
        "tf-pe", "train", "--model=lenet_300_100", "--method=dsr", "--density=0.05",
        "--epochs=1", "--take=512", "--eval-take=256", "--batch-size=64", "--verbose=0",
        "--reparam-period=2", "--prune-fraction=0.05", f"--data-dir={fashion_data_dir}",
        f"--out={out}", f"--log-dir={tmp_path / 'tb'}"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "DSR: 4 steps" in printed
    reparam = json.loads((out / "reparam.json").read_text())
    assert reparam["summary"]["steps"] == 4 and len(reparam["history"]) == 4
    assert reparam["summary"]["active"] == round(0.05 * 784 * 300) + round(
        0.05 * 300 * 100) + round(0.05 * 100 * 10)
    record = json.loads((out / "run.json").read_text())
    assert record["metrics"]["history"]["reparam_steps"] == [4.0]
    assert np.isfinite(record["metrics"]["history"]["reparam_threshold"][0])
    assert record["summary"]["total"]["active"] == reparam["summary"]["active"] + 410
    assert record["callbacks"]["DynamicSparseReparam"]["summary"] == reparam["summary"]
    assert record["callbacks"]["DynamicSparseReparam"]["report"].startswith("DSR: 4 steps")
    assert list((tmp_path / "tb").iterdir())


def test_gmp_ends_at_the_per_layer_densities_of_the_sparse_methods(tmp_path):
    _, callbacks = build("gmp", density=0.05, distribution="erk", out=str(tmp_path))
    static, _ = build("static", density=0.05, distribution="erk", out=str(tmp_path))
    expected = {layer.name: float(layer.mask.numpy().mean())
                for layer in find_sparse_layers(static)}
    assert callbacks[0].final_density == expected

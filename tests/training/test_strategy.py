"""`tf_pe.training.strategy` and `tf-pe train --strategy` in this process (one
CPU device; the two-replica and two-worker runs are in tests/distribute)."""

import json

import keras
import pytest
import tensorflow as tf

from tf_pe import cli
from tf_pe.training import TrainConfig
from tf_pe.training.strategy import (
    check_strategy,
    is_chief,
    make_fit_compatible,
    make_strategy,
    shard_by_data,
    worker_dir,
)

SMALL = ["--epochs=1", "--take=256", "--eval-take=128", "--batch-size=64", "--verbose=0"]


@pytest.mark.parametrize("bad", ["gpu", "", "Mirrored"])
def test_unknown_strategy_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="`strategy` must be one of none, mirrored"):
        check_strategy(bad)
    with pytest.raises(ValueError, match="`strategy`"):
        TrainConfig(strategy=bad)


def test_none_is_the_default_strategy_and_the_chief_writes_to_out():
    strategy = make_strategy("none")
    assert strategy is tf.distribute.get_strategy()
    assert is_chief(strategy) and worker_dir("runs/x", strategy) == "runs/x"


def test_mirrored_uses_the_local_devices():
    strategy = make_strategy("mirrored")
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == len(tf.config.list_logical_devices("CPU"))


def test_tpu_without_a_tpu_is_a_clear_error():
    with pytest.raises(ValueError, match="`strategy`='tpu' found no TPU"):
        make_strategy("tpu")


def test_multi_worker_rejects_a_tf_config_that_is_not_json(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "{cluster: workers}")
    with pytest.raises(ValueError, match="`TF_CONFIG` must be JSON"):
        make_strategy("multi_worker")


def test_fit_workaround_leaves_other_strategies_alone():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    assert make_fit_compatible(model, make_strategy("mirrored")) is model
    assert "_make_function" not in vars(model) and "_maybe_symbolic_build" not in vars(model)


def test_shard_by_data_sets_the_data_policy():
    dataset = shard_by_data(tf.data.Dataset.range(4))
    assert (dataset.options().experimental_distribute.auto_shard_policy
            == tf.data.experimental.AutoShardPolicy.DATA)
    assert list(dataset.as_numpy_iterator()) == [0, 1, 2, 3]


def test_cli_trains_a_sparse_model_under_mirrored(tmp_path, fashion_data_dir):
    out = tmp_path / "run"
    status = cli.main(["tf-pe", "train", *SMALL, "--strategy=mirrored", "--method=dsr",
                       "--density=0.2", "--reparam-period=2", f"--data-dir={fashion_data_dir}",
                       f"--out={out}"])
    assert status == 0
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "done" and record["config"]["strategy"] == "mirrored"
    assert record["callbacks"]["DynamicSparseReparam"]["summary"]["steps"] >= 1


def test_cli_tpu_without_a_tpu_exits_2(tmp_path, fashion_data_dir, capsys):
    status = cli.main(["tf-pe", "train", *SMALL, "--strategy=tpu",
                       f"--data-dir={fashion_data_dir}", f"--out={tmp_path / 'run'}"])
    assert status == 2
    assert "found no TPU" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()

import json

import keras
import pytest

from tf_pe import cli
from tf_pe.callbacks import DensifyEvery
from tf_pe.layers import SparseChannelConv2D
from tf_pe.sparsity import patterns
from tf_pe.training import TrainConfig, get_method


def channel_layers(model):
    return [layer for layer in model.layers if isinstance(layer, SparseChannelConv2D)]


def test_channel_method_builds_sparse_convs_with_fixed_density():
    config = TrainConfig(model="changpinyo_mnist", method="channel", density=0.1,
                         pattern="block", seed=4)
    model, callbacks = get_method("channel").build(config, (28, 28, 1), 10)
    convs = channel_layers(model)
    assert [c.name for c in convs] == ["conv1", "conv2", "conv3"] and callbacks == []
    assert all(c.density == 0.1 and c.pattern == "block" for c in convs)
    assert type(model.get_layer("logits")) is keras.layers.Dense  # dense layers stay dense
    assert len({c.mask_seed.numpy().item() for c in convs}) == 3


def test_channel_method_with_densification_starts_at_initial_density():
    config = TrainConfig(model="changpinyo_mnist", method="channel", density=0.5,
                         densify_every=100, densify_factor=4.0)
    model, callbacks = get_method("channel").build(config, (28, 28, 1), 10)
    conv2 = model.get_layer("conv2")
    assert conv2.density == 0.01  # the paper's 1% default
    assert conv2.active_connections == patterns.active_count(32, 64, 0.01)
    (densify,) = callbacks
    assert isinstance(densify, DensifyEvery)
    assert (densify.steps, densify.factor, densify.final_density) == (100, 4.0, 0.5)


def test_model_without_convolutions_is_an_error():
    with pytest.raises(ValueError, match="has no Conv2D layer for method 'channel'"):
        get_method("channel").build(TrainConfig(model="mlp", method="channel"), (28, 28, 1), 10)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"pattern": "diagonal"}, "`pattern` must be one of random, block"),
    ({"densify_every": 0}, "`densify_every` must be an integer >= 1"),
    ({"initial_density": 0.1}, "`initial_density` needs `densify_every`"),
    ({"densify_every": 5, "density": 0.2, "initial_density": 0.3},
     r"`initial_density` must be in \(0, density=0.2\]"),
    ({"densify_factor": 1.0}, "`densify_factor` must be > 1"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(method="channel", **kwargs)


def test_cli_trains_incrementally_to_full_density(tmp_path, fashion_data_dir):
    out = tmp_path / "run"
    status = cli.main([
        "tf-pe", "train", "--model=changpinyo_mnist", "--method=channel", "--densify-every=1",
        "--initial-density=0.05", "--epochs=1", "--take=192", "--eval-take=64",
        "--batch-size=32", "--verbose=0", f"--data-dir={fashion_data_dir}", f"--out={out}"])
    assert status == 0
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["densify_every"] == 1 and record["config"]["initial_density"] == 0.05
    # 6 steps: 0.05 doubles at steps 1..5 to 1.6, capped at 1: dense at the last step.
    model = keras.saving.load_model(out / "model.keras")
    for conv in channel_layers(model):
        assert conv.densify_step.numpy() == 6 and conv.current_density == 1.0
    conv2 = record["summary"]["layers"][1]
    assert conv2["name"] == "conv2" and conv2["active"] == conv2["params"]


def test_cli_fixed_density_reports_active_parameters(tmp_path, fashion_data_dir):
    out = tmp_path / "run"
    status = cli.main([
        "tf-pe", "train", "--model=changpinyo_mnist", "--method=channel", "--density=0.1",
        "--epochs=1", "--take=64", "--eval-take=64", "--batch-size=32", "--verbose=0",
        f"--data-dir={fashion_data_dir}", f"--out={out}"])
    assert status == 0
    layers = {s["name"]: s for s in json.loads((out / "run.json").read_text())["summary"]["layers"]}
    assert layers["conv2"]["active"] == 25 * patterns.active_count(32, 64, 0.1) + 64

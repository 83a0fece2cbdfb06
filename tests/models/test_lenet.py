"""Tests for tf_pe.models.lenet: LeNet-300-100, the Denil et al. MLP and LeNet-5."""

import keras
import numpy as np
import pytest

from tests.models.helpers import conv_params, dense_params, trainable_count
from tf_pe.models import lenet5, lenet_300_100, mlp


def test_lenet_300_100_parameter_count():
    # 784*300+300 = 235,500; 300*100+100 = 30,100; 100*10+10 = 1,010.
    expected = dense_params(784, 300) + dense_params(300, 100) + dense_params(100, 10)
    assert expected == 266_610
    model = lenet_300_100()
    assert model.count_params() == trainable_count(model) == expected
    assert [layer.name for layer in model.layers] == ["input", "flatten", "fc1", "fc2", "logits"]


def test_mlp_parameter_count():
    # Denil et al. 2013: 784-500-500-10; 392,500 + 250,500 + 5,010.
    expected = dense_params(784, 500) + dense_params(500, 500) + dense_params(500, 10)
    assert expected == 648_010
    assert mlp().count_params() == expected


def test_lenet5_parameter_count_by_layer():
    # conv1: 5*5*1*6 + 6 = 156 (28x28 'same' -> pool -> 14x14)
    # conv2: 5*5*6*16 + 16 = 2,416 (14x14 'valid' -> 10x10 -> pool -> 5x5)
    # fc1: (5*5*16)*120 + 120 = 48,120; fc2: 120*84 + 84 = 10,164; logits: 84*10 + 10 = 850
    per_layer = {
        "conv1": conv_params(5, 1, 6),
        "conv2": conv_params(5, 6, 16),
        "fc1": dense_params(5 * 5 * 16, 120),
        "fc2": dense_params(120, 84),
        "logits": dense_params(84, 10),
    }
    assert per_layer == {
        "conv1": 156,
        "conv2": 2_416,
        "fc1": 48_120,
        "fc2": 10_164,
        "logits": 850,
    }
    model = lenet5()
    for name, count in per_layer.items():
        assert model.get_layer(name).count_params() == count, name
    assert model.count_params() == sum(per_layer.values()) == 61_706


@pytest.mark.parametrize("builder", [lenet_300_100, mlp, lenet5])
def test_forward_pass_gives_logits(builder):
    model = builder(num_classes=3)
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    y = model(x, training=False)
    assert tuple(y.shape) == (4, 3)
    assert np.isfinite(y).all()


def test_mlp_accepts_any_input_rank_and_hidden():
    model = mlp(input_shape=(20,), num_classes=4, hidden=(8, 6, 5))
    assert [layer.units for layer in model.layers[2:]] == [8, 6, 5, 4]
    assert model.count_params() == (
        dense_params(20, 8) + dense_params(8, 6) + dense_params(6, 5) + dense_params(5, 4)
    )
    assert mlp(input_shape=(5, 4, 3, 2), hidden=()).count_params() == dense_params(120, 10)


@pytest.mark.parametrize("hidden", [(500, 0), (500, 2.5), "500", 500])
def test_mlp_rejects_bad_hidden(hidden):
    with pytest.raises(ValueError, match="hidden"):
        mlp(hidden=hidden)


def test_lenet5_depth_multiplier_widths():
    # alpha = 0.25 -> sqrt = 0.5: conv1 ceil(3.0) = 3, conv2 8, fc1 60, fc2 42.
    model = lenet5(depth_multiplier=0.25)
    assert model.get_layer("conv1").filters == 3
    assert model.get_layer("conv2").filters == 8
    assert model.get_layer("fc1").units == 60
    assert model.get_layer("fc2").units == 42
    assert model.input_shape == (None, 28, 28, 1)
    assert model.output_shape == (None, 10)
    expected = (
        conv_params(5, 1, 3)
        + conv_params(5, 3, 8)
        + dense_params(5 * 5 * 8, 60)
        + dense_params(60, 42)
        + dense_params(42, 10)
    )
    assert model.count_params() == expected


def test_lenet_300_100_depth_multiplier_widths():
    # alpha = 0.1 -> sqrt = 0.3162...: ceil(94.87) = 95, ceil(31.62) = 32.
    model = lenet_300_100(depth_multiplier=0.1)
    assert (model.get_layer("fc1").units, model.get_layer("fc2").units) == (95, 32)


def test_lenet5_input_size_limits():
    assert lenet5(input_shape=(12, 12, 3)).output_shape == (None, 10)
    with pytest.raises(ValueError, match="input_shape"):
        lenet5(input_shape=(11, 28, 1))
    with pytest.raises(ValueError, match="input_shape"):
        lenet5(input_shape=(784,))


def test_model_names():
    assert lenet5().name == "lenet5"
    assert lenet_300_100().name == "lenet_300_100"
    assert mlp(name="denil").name == "denil"


def test_save_and_load_round_trip(tmp_path):
    model = lenet5(depth_multiplier=0.25)
    path = tmp_path / "lenet5.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.random.default_rng(1).random((3, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    assert loaded.get_layer("conv1").filters == 3

"""Tests for tf_pe.models.wrn (Zagoruyko & Komodakis 2016)."""

import keras
import numpy as np
import pytest

from tests.models.helpers import conv_params, dense_params, trainable_count
from tf_pe.models import wrn


def wrn_param_count(depth, k, num_classes=10, in_channels=3, trainable_only=True):
    """Independent WRN-depth-k count: BN has 2 trainable (+2 moving) scalars per channel."""
    bn = 2 if trainable_only else 4
    n = (depth - 4) // 6
    total = conv_params(3, in_channels, 16, bias=False)
    c_in = 16
    for c, stride in ((16 * k, 1), (32 * k, 2), (64 * k, 2)):
        for block in range(n):
            cin_block = c_in if block == 0 else c
            total += bn * cin_block + conv_params(3, cin_block, c, bias=False)
            total += bn * c + conv_params(3, c, c, bias=False)
            if block == 0 and (cin_block != c or stride != 1):  # 1x1 projection shortcut
                total += conv_params(1, cin_block, c, bias=False)
        c_in = c
    return total + bn * 64 * k + dense_params(64 * k, num_classes)


def test_wrn_16_2_parameter_count():
    model = wrn(depth=16, width=2)
    assert model.name == "wrn_16_2"
    assert trainable_count(model) == wrn_param_count(16, 2) == 691_674
    assert model.count_params() == wrn_param_count(16, 2, trainable_only=False)


def test_wrn_28_2_parameter_count():
    # The paper's Table 1 lists WRN-28-2 at 1.5M; the exact count is 1,467,610.
    model = wrn(depth=28, width=2, num_classes=100)
    assert trainable_count(model) == wrn_param_count(28, 2, num_classes=100)
    assert trainable_count(wrn()) == 1_467_610


def test_wrn_40_1_identity_first_group():
    # k = 1: group 1 keeps 16 channels at stride 1, so it has no shortcut conv.
    model = wrn(input_shape=(8, 8, 3), depth=40, width=1)
    names = [layer.name for layer in model.layers]
    assert "group1_block1_shortcut" not in names
    assert {"group2_block1_shortcut", "group3_block1_shortcut"} <= set(names)
    assert trainable_count(model) == wrn_param_count(40, 1)


def test_structure_and_forward_pass():
    model = wrn(input_shape=(8, 8, 3), depth=16, width=2, num_classes=5)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(not conv.use_bias for conv in convs)
    # 1 stem + 3 groups * 2 blocks * 2 convs + 3 shortcuts (16->32 at stride 1, then 2, 2).
    assert len(convs) == 1 + 12 + 3
    assert model.get_layer("group1_block1_shortcut").strides == (1, 1)
    assert model.get_layer("group2_block1_conv1").strides == (2, 2)
    assert model.get_layer("group2_block1_shortcut").strides == (2, 2)
    assert model.get_layer("group3_block2_conv2").filters == 128
    y = model(np.ones((2, 8, 8, 3), np.float32), training=False)
    assert tuple(y.shape) == (2, 5)
    assert np.isfinite(y).all()


def test_dropout_between_the_convs():
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in wrn(depth=16).layers)
    model = wrn(input_shape=(8, 8, 3), depth=16, dropout=0.3)
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert len(dropouts) == 6
    assert all(layer.rate == 0.3 for layer in dropouts)


def test_weight_decay_regularizes_every_kernel(recorder):
    model = wrn(
        input_shape=(8, 8, 3),
        depth=16,
        weight_decay=5e-4,
        conv_layer=recorder.conv,
        dense_layer=recorder.dense,
    )
    assert all("kernel_regularizer" in kwargs for *_, kwargs in recorder.calls)
    assert len(model.losses) == len(recorder.calls) == 16 + 1
    plain = wrn(input_shape=(8, 8, 3), depth=16)
    assert len(plain.losses) == 0


def test_save_and_load_round_trip(tmp_path):
    model = wrn(input_shape=(8, 8, 3), depth=10, width=1, dropout=0.1, weight_decay=1e-4)
    path = tmp_path / "wrn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.random.default_rng(0).random((2, 8, 8, 3), dtype=np.float32)
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=1e-6)
    # Regularized kernels: stem + 3 groups * 2 convs + 2 shortcuts (groups 2, 3) + logits.
    assert len(loaded.losses) == len(model.losses) == 1 + 6 + 2 + 1
    np.testing.assert_allclose(sum(loaded.losses), sum(model.losses), rtol=1e-6)


def test_depth_multiplier_widths():
    model = wrn(input_shape=(8, 8, 3), depth=16, width=2, depth_multiplier=0.25)
    assert model.get_layer("conv1").filters == 8
    assert model.get_layer("group1_block1_conv1").filters == 16
    assert model.get_layer("group3_block2_conv2").filters == 64
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"depth": 27}, "depth"),
        ({"depth": 4}, "depth"),
        ({"depth": 16.0}, "depth"),
        ({"width": 0}, "width"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"weight_decay": -1.0}, "weight_decay"),
    ],
)
def test_invalid_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        wrn(**kwargs)

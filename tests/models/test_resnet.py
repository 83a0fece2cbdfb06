"""Tests for tf_pe.models.resnet (ResNet-50 v1.5)."""

import keras
import numpy as np
import pytest

from tests.models.helpers import trainable_count
from tf_pe.models import resnet50


@pytest.fixture(scope="module")
def default_model():
    return resnet50()


def test_parameter_count_matches_reference(default_model):
    # torchvision's resnet50 has 25,557,032 parameters (no conv biases).
    assert trainable_count(default_model) == 25_557_032
    # keras.applications' ResNet50 (v1) has the same layout except conv biases.
    reference = keras.applications.ResNet50(weights=None)
    conv_biases = sum(
        layer.filters for layer in reference.layers if isinstance(layer, keras.layers.Conv2D)
    )
    assert conv_biases == 26_560
    assert default_model.count_params() == reference.count_params() - conv_biases


def test_layout(default_model):
    assert default_model.output_shape == (None, 1000)
    convs = [layer for layer in default_model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 1 + 3 * (3 + 4 + 6 + 3) + 4  # stem, bottlenecks, projections
    assert all(not conv.use_bias for conv in convs)
    # v1.5: the stride sits on the 3x3 conv, and the projection shortcut is strided.
    assert default_model.get_layer("stage2_block1_conv1").strides == (1, 1)
    assert default_model.get_layer("stage2_block1_conv2").strides == (2, 2)
    assert default_model.get_layer("stage2_block1_shortcut").strides == (2, 2)
    assert default_model.get_layer("stage1_block1_shortcut").filters == 256
    assert default_model.get_layer("stage4_block3_conv3").filters == 2048
    assert default_model.get_layer("avg_pool").output.shape == (None, 2048)


def test_forward_pass_small_input():
    model = resnet50(input_shape=(32, 32, 3), num_classes=10, depth_multiplier=0.0625)
    # sqrt(0.0625) = 0.25: stem 16, stage widths 16/32/64/128, outputs 4x those.
    assert model.get_layer("conv1").filters == 16
    assert model.get_layer("stage4_block1_conv2").filters == 128
    assert model.get_layer("stage4_block3_conv3").filters == 512
    y = model(np.zeros((2, 32, 32, 3), np.float32), training=False)
    assert tuple(y.shape) == (2, 10)

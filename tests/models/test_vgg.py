"""Tests for tf_pe.models.vgg (VGG-16n, Changpinyo et al. 2017 sec. 5.2.3)."""

import keras
import numpy as np

from tests.models.helpers import conv_params, dense_params, trainable_count
from tf_pe.models import vgg16n

CONV_FILTERS = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512, 1024]


def vgg16n_trainable(num_classes, in_channels=3):
    """Hand count: 3x3 convs without bias, BN gamma/beta, then the logits layer."""
    total, c_in = 0, in_channels
    for c in CONV_FILTERS:
        total += conv_params(3, c_in, c, bias=False) + 2 * c
        c_in = c
    return total + dense_params(1024, num_classes)


def test_parameter_count():
    model = vgg16n()
    assert trainable_count(model) == vgg16n_trainable(10) == 19_449_802
    # Plus 2 BatchNorm moving statistics per conv channel.
    assert model.count_params() == vgg16n_trainable(10) + 2 * sum(CONV_FILTERS)


def test_imagenet_size_is_about_seven_times_smaller_than_vgg16():
    # VGG-16 (Simonyan & Zisserman 2015) has 138,357,544 parameters.
    ratio = 138_357_544 / vgg16n_trainable(1000)
    assert 6.0 < ratio < 8.0


def test_layout_and_forward_pass():
    model = vgg16n(num_classes=4)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [conv.filters for conv in convs] == CONV_FILTERS
    assert convs[-1].name == "conv6"
    assert convs[0].name == "block1_conv1"
    assert sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers) == 6
    y = model(np.zeros((2, 32, 32, 3), np.float32), training=False)
    assert tuple(y.shape) == (2, 4)


def test_depth_multiplier_widths():
    model = vgg16n(depth_multiplier=0.25)
    assert model.get_layer("block1_conv1").filters == 32
    assert model.get_layer("block5_conv3").filters == 256
    assert model.get_layer("conv6").filters == 512
    assert model.output_shape == (None, 10)

"""Tests for tf_pe.models.changpinyo (Changpinyo et al. 2017 MNIST/CIFAR nets)."""

import numpy as np
import pytest

from tests.models.helpers import conv_params, dense_params
from tf_pe.models import changpinyo_cifar, changpinyo_mnist


def test_mnist_parameter_count():
    # 28 -> pool 14 -> pool 7 -> pool 3 ('valid' 2x2 pools): 3*3*128 = 1,152 features.
    expected = (
        conv_params(5, 1, 32)  # 832
        + conv_params(5, 32, 64)  # 51,264
        + conv_params(3, 64, 128)  # 73,856
        + dense_params(3 * 3 * 128, 10)  # 11,530
    )
    assert expected == 137_482
    assert changpinyo_mnist().count_params() == expected


def test_cifar_parameter_count():
    # 32 -> pool 16 -> pool 8 (3x3 stride-2 'same' pools): 8*8*64 = 4,096 features.
    expected = (
        conv_params(5, 3, 64)  # 4,864
        + conv_params(5, 64, 64)  # 102,464
        + dense_params(8 * 8 * 64, 384)  # 1,573,248
        + dense_params(384, 192)  # 73,920
        + dense_params(192, 10)  # 1,930
    )
    assert expected == 1_756_426
    assert changpinyo_cifar().count_params() == expected


@pytest.mark.parametrize(
    ("builder", "shape"), [(changpinyo_mnist, (28, 28, 1)), (changpinyo_cifar, (32, 32, 3))]
)
def test_forward_pass(builder, shape):
    model = builder()
    y = model(np.zeros((2, *shape), np.float32), training=False)
    assert tuple(y.shape) == (2, 10)


def test_depth_multiplier_widths():
    mnist = changpinyo_mnist(depth_multiplier=0.25)
    assert [mnist.get_layer(f"conv{i}").filters for i in (1, 2, 3)] == [16, 32, 64]
    cifar = changpinyo_cifar(depth_multiplier=0.5)  # sqrt = 0.7071...
    assert cifar.get_layer("conv1").filters == 46  # ceil(45.25)
    assert cifar.get_layer("fc1").units == 272  # ceil(271.53)
    assert cifar.get_layer("fc2").units == 136  # ceil(135.76)
    assert cifar.output_shape == (None, 10)


def test_mnist_input_size_limit():
    assert changpinyo_mnist(input_shape=(8, 8, 1)).output_shape == (None, 10)
    with pytest.raises(ValueError, match="input_shape"):
        changpinyo_mnist(input_shape=(7, 28, 1))

"""Tests for tf_pe.models.registry."""

import pytest

from tf_pe import models
from tf_pe.models import registry

EXPECTED = [
    "changpinyo_cifar",
    "changpinyo_mnist",
    "lenet5",
    "lenet_300_100",
    "mlp",
    "resnet50",
    "vgg16n",
    "wrn",
    "wrn_16_2",
    "wrn_28_2",
]


def test_available():
    assert models.available() == EXPECTED
    names = models.available()
    names.append("mutated")
    assert models.available() == EXPECTED


def test_get_builds_with_kwargs():
    model = models.get("lenet5", num_classes=3)
    assert model.name == "lenet5"
    assert model.output_shape == (None, 3)


def test_wrn_presets():
    model = models.get("wrn_16_2", input_shape=(8, 8, 3))
    assert model.name == "wrn_16_2"
    assert model.get_layer("group3_block2_conv2").filters == 128
    assert "group3_block3_conv1" not in [layer.name for layer in model.layers]
    assert models.get_builder("wrn_28_2").keywords == {"depth": 28, "width": 2}


def test_names_are_normalized():
    assert models.get_builder("WRN-28-2") is registry.get_builder("wrn_28_2")
    assert models.get_builder("LeNet5") is models.lenet5


@pytest.mark.parametrize("name", ["alexnet", "", None, 5])
def test_unknown_name_lists_valid_names(name):
    with pytest.raises(ValueError, match="name") as info:
        models.get(name)
    assert all(valid in str(info.value) for valid in EXPECTED)

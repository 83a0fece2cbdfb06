"""Static dataset facts and normalization constants."""

import dataclasses
import gzip
import os

import numpy as np
import pytest

from tests.conftest import debian_files_present
from tf_pe.data import DatasetInfo, available, catalog, info


def test_available():
    assert available() == ["cifar10", "fashion_mnist", "imagenet2012", "mnist"]


@pytest.mark.parametrize(
    ("name", "shape", "classes", "examples"),
    [
        ("fashion_mnist", (28, 28, 1), 10, {"train": 60_000, "test": 10_000}),
        ("mnist", (28, 28, 1), 10, {"train": 60_000, "test": 10_000}),
        ("cifar10", (32, 32, 3), 10, {"train": 50_000, "test": 10_000}),
        ("imagenet2012", (224, 224, 3), 1000, {"train": 1_281_167, "validation": 50_000}),
    ],
)
def test_info(name, shape, classes, examples):
    result = info(name)
    assert result == DatasetInfo(name, shape, classes, examples)
    assert dict(result.num_examples) == examples


def test_info_is_frozen_and_read_only():
    result = info("fashion_mnist")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.num_classes = 3
    with pytest.raises(TypeError):
        result.num_examples["train"] = 1
    assert info("fashion_mnist").num_examples["train"] == 60_000


def test_info_reads_nothing(tmp_path):
    data_dir = tmp_path / "not_there"
    assert info("cifar10", data_dir=data_dir).num_classes == 10
    assert not data_dir.exists()


def test_info_image_size():
    assert info("imagenet2012", image_size=160).input_shape == (160, 160, 3)
    assert info("cifar10", image_size=160).input_shape == (32, 32, 3)  # Ignored.
    with pytest.raises(ValueError, match="image_size"):
        info("imagenet2012", image_size=0)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"`name` must be one of \['cifar10', 'fashion_mnist'"):
        info("svhn")


def test_constants_shapes():
    for name in available():
        e = catalog.entry(name)
        channels = e.input_shape[-1]
        assert len(e.mean) == len(e.std) == channels
        assert all(0 < m < 1 for m in e.mean) and all(0 < s < 1 for s in e.std)


@pytest.mark.skipif(not debian_files_present(), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_constants_match_the_train_files():
    path = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
    assert os.path.isfile(path)
    with gzip.open(path, "rb") as f:
        pixels = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    assert pixels.size == 60_000 * 28 * 28
    # Exact integer sums, then float64: mean and population std of pixels / 255.
    n = pixels.size
    total = int(pixels.sum(dtype=np.int64))
    total_sq = int((pixels.astype(np.int64) ** 2).sum())
    mean = total / n / 255
    std = np.sqrt(total_sq / n / 255**2 - mean**2)
    e = catalog.entry("fashion_mnist")
    assert e.mean[0] == pytest.approx(mean, abs=1e-12)
    assert e.std[0] == pytest.approx(std, abs=1e-12)

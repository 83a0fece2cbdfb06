"""Offline preparation of tfds' fashion_mnist from the Debian files."""

import gzip
import os
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.image_classification import mnist as tfds_mnist

from tf_pe.data import DatasetNotFoundError, fashion_mnist_local
from tf_pe.data.fashion_mnist_local import (
    LocalFashionMNIST,
    prepare_fashion_mnist,
    read_idx,
    resolve_files_dir,
)


def _snapshot(directory):
    """(relative path, size, mtime_ns) of every file under `directory`."""
    out = []
    for root, _, files in os.walk(directory):
        for name in files:
            stat = os.stat(os.path.join(root, name))
            out.append(
                (
                    os.path.relpath(os.path.join(root, name), directory),
                    stat.st_size,
                    stat.st_mtime_ns,
                )
            )
    return sorted(out)


def test_builder_keeps_tfds_name_version_and_registry():
    assert LocalFashionMNIST.name == "fashion_mnist"
    assert str(LocalFashionMNIST.VERSION) == "3.0.1"
    # skip_registration: the name still resolves to tfds' own builder.
    assert tfds.builder_cls("fashion_mnist") is tfds_mnist.FashionMNIST
    assert "local_fashion_mnist" not in tfds.list_builders()


def test_prepares_standard_fashion_mnist(fashion_data_dir):
    variant = os.path.join(fashion_data_dir, "fashion_mnist", "3.0.1")
    assert os.path.isfile(os.path.join(variant, "dataset_info.json"))
    assert os.path.isfile(os.path.join(variant, "features.json"))
    builder = tfds.builder("fashion_mnist", data_dir=fashion_data_dir)  # tfds' own class
    assert builder.is_prepared()
    assert builder.info.splits["train"].num_examples == 60_000
    assert builder.info.splits["test"].num_examples == 10_000
    assert builder.info.features["label"].names[0] == "T-shirt/top"


def test_plain_tfds_load_reads_prepared_data(fashion_data_dir):
    ds = tfds.load(
        "fashion_mnist",
        split="test[:5]",
        data_dir=fashion_data_dir,
        download=False,
        as_supervised=True,
    )
    images = [image.numpy() for image, _ in ds]
    assert len(images) == 5
    assert images[0].shape == (28, 28, 1) and images[0].dtype == np.uint8


def test_records_match_the_debian_files(fashion_data_dir):
    # Decoded PNGs equal the raw IDX pixels: tfds keys are example indices, so
    # recover each record's index by matching images against the files.
    files = fashion_mnist_local.DEFAULT_FILES_DIR
    raw = read_idx(
        os.path.join(files, "t10k-images-idx3-ubyte.gz"), magic=2051, num_examples=10_000
    )
    labels = read_idx(
        os.path.join(files, "t10k-labels-idx1-ubyte.gz"), magic=2049, num_examples=10_000
    )
    by_bytes = {raw[i].tobytes(): i for i in range(len(raw))}
    ds = tfds.load(
        "fashion_mnist",
        split="test[:200]",
        data_dir=fashion_data_dir,
        download=False,
        as_supervised=True,
    )
    for image, label in ds.as_numpy_iterator():
        index = by_bytes[image[..., 0].tobytes()]
        assert label == labels[index]


def test_second_prepare_is_fast_and_writes_nothing(fashion_data_dir, tmp_path):
    before = _snapshot(fashion_data_dir)
    start = time.perf_counter()
    # Files dir pointing nowhere: a prepared data_dir does not need the files.
    builder = prepare_fashion_mnist(data_dir=fashion_data_dir, files_dir=tmp_path)
    elapsed = time.perf_counter() - start
    assert builder.is_prepared()
    assert elapsed < 2.0
    assert _snapshot(fashion_data_dir) == before


def test_missing_files_raise_clear_error(tmp_path):
    data_dir = tmp_path / "tfds"
    with pytest.raises(DatasetNotFoundError) as excinfo:
        prepare_fashion_mnist(data_dir=data_dir, files_dir=tmp_path / "empty")
    message = str(excinfo.value)
    assert "sudo apt-get install dataset-fashion-mnist" in message
    assert "data_dir" in message and "TF_PE_FASHION_MNIST_DIR" in message
    assert isinstance(excinfo.value, FileNotFoundError)
    assert not (data_dir / "fashion_mnist" / "3.0.1").exists()


def test_missing_files_via_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_PE_FASHION_MNIST_DIR", str(tmp_path / "empty"))
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        prepare_fashion_mnist(data_dir=tmp_path / "tfds")


def test_resolve_files_dir(monkeypatch, tmp_path):
    assert resolve_files_dir() == "/usr/share/datasets/fashion-mnist"
    monkeypatch.setenv("TF_PE_FASHION_MNIST_DIR", str(tmp_path))
    assert resolve_files_dir() == str(tmp_path)
    assert resolve_files_dir("/x/y") == "/x/y"  # The argument wins over the env var.


def _write_idx(path, magic, array):
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_roundtrip_and_validation(tmp_path):
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    _write_idx(tmp_path / "img.gz", 2051, images)
    _write_idx(tmp_path / "lab.gz", 2049, np.array([7, 0, 9]))
    np.testing.assert_array_equal(read_idx(tmp_path / "img.gz", magic=2051, num_examples=3), images)
    np.testing.assert_array_equal(
        read_idx(tmp_path / "lab.gz", magic=2049, num_examples=3), [7, 0, 9]
    )
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "lab.gz", magic=2051, num_examples=3)
    with pytest.raises(ValueError, match="expected 4 examples"):
        read_idx(tmp_path / "img.gz", magic=2051, num_examples=4)

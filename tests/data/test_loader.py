"""`tf_pe.data.load` on the real Fashion-MNIST, plus tfds-mocked cifar10/imagenet2012."""

from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tf_pe.data import DatasetNotFoundError, catalog, load


def _first_batch(ds):
    images, labels = next(iter(ds))
    return images.numpy(), labels.numpy()


def _count_and_moments(ds):
    count, total, total_sq, labels = 0, 0.0, 0.0, set()
    for images, batch_labels in ds.as_numpy_iterator():
        assert images.dtype == np.float32 and batch_labels.dtype == np.int64
        assert images.shape[1:] == (28, 28, 1)
        count += images.shape[0]
        pixels = images.astype(np.float64)
        total += pixels.sum()
        total_sq += (pixels**2).sum()
        labels.update(batch_labels.tolist())
    n = count * 28 * 28
    mean = total / n
    return count, mean, np.sqrt(total_sq / n - mean**2), labels


def test_train_split_counts_and_normalization(fashion_data_dir):
    ds = load("fashion_mnist", "train", 10_000, data_dir=fashion_data_dir, shuffle=False)
    count, mean, std, labels = _count_and_moments(ds)
    assert count == 60_000
    assert labels == set(range(10))
    assert mean == pytest.approx(0.0, abs=1e-4)
    assert std == pytest.approx(1.0, abs=1e-4)


def test_test_split_counts_and_unnormalized_range(fashion_data_dir):
    ds = load("fashion_mnist", "test", 5_000, data_dir=fashion_data_dir, normalize=False)
    count, mean, _, labels = _count_and_moments(ds)
    assert count == 10_000
    assert labels == set(range(10))
    assert 0.27 < mean < 0.30  # Test images are darker than 0.5, like the train ones.
    images, _ = _first_batch(ds)
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_default_batch_shape_and_types(fashion_data_dir):
    ds = load("fashion_mnist", data_dir=fashion_data_dir, take=300)
    assert ds.element_spec[0] == tf.TensorSpec([None, 28, 28, 1], tf.float32)
    assert ds.element_spec[1] == tf.TensorSpec([None], tf.int64)
    sizes = [images.shape[0] for images, _ in ds]
    assert sizes == [128, 128, 44]


def test_drop_remainder_and_repeat(fashion_data_dir):
    ds = load("fashion_mnist", "test", 64, data_dir=fashion_data_dir, take=100, drop_remainder=True)
    assert ds.element_spec[0].shape.as_list() == [64, 28, 28, 1]
    assert sum(1 for _ in ds) == 1
    repeated = load("fashion_mnist", "test", 64, data_dir=fashion_data_dir, take=100, repeat=True)
    assert sum(1 for _ in repeated.take(7)) == 7


def test_take_keeps_first_examples_whatever_the_seed(fashion_data_dir):
    kwargs = {"split": "test", "batch_size": 1000, "data_dir": fashion_data_dir, "take": 50}
    plain = _first_batch(load("fashion_mnist", **kwargs))
    shuffled = _first_batch(load("fashion_mnist", shuffle=True, seed=3, **kwargs))
    assert plain[0].shape[0] == 50
    np.testing.assert_array_equal(np.sort(plain[1]), np.sort(shuffled[1]))
    assert not np.array_equal(plain[1], shuffled[1])


def test_slicing_split(fashion_data_dir):
    ds = load("fashion_mnist", "test[:10%]", 512, data_dir=fashion_data_dir)
    assert sum(images.shape[0] for images, _ in ds) == 1_000
    ds = load("fashion_mnist", "validation[9000:]", 512, data_dir=fashion_data_dir)
    assert sum(images.shape[0] for images, _ in ds) == 1_000


def test_shuffle_is_seeded_and_reshuffles_each_iteration(fashion_data_dir):
    def build(seed):
        return load("fashion_mnist", "train[:3000]", 64, data_dir=fashion_data_dir, seed=seed)

    a, b, c = build(1), build(1), build(2)
    first_a, first_b, first_c = _first_batch(a), _first_batch(b), _first_batch(c)
    np.testing.assert_array_equal(first_a[0], first_b[0])
    np.testing.assert_array_equal(first_a[1], first_b[1])
    assert not np.array_equal(first_a[0], first_c[0])
    second_epoch = _first_batch(a)  # A new iteration of the same pipeline.
    assert not np.array_equal(first_a[0], second_epoch[0])
    assert _first_batch(build(1))[1].tolist() == first_a[1].tolist()


def test_eval_split_is_not_shuffled_by_default(fashion_data_dir):
    a = _first_batch(load("fashion_mnist", "test", 32, data_dir=fashion_data_dir, seed=1))
    b = _first_batch(load("fashion_mnist", "test", 32, data_dir=fashion_data_dir, seed=2))
    np.testing.assert_array_equal(a[0], b[0])


def test_augment_on_request_is_seeded(fashion_data_dir):
    def build(seed, augment):
        return load(
            "fashion_mnist",
            "test",
            16,
            data_dir=fashion_data_dir,
            take=16,
            seed=seed,
            augment=augment,
            normalize=False,
        )

    plain = _first_batch(build(0, False))[0]
    a, b, c = (_first_batch(build(s, True))[0] for s in (0, 0, 1))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, plain)


def test_default_data_dir_honours_tfds_data_dir(fashion_data_dir, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", fashion_data_dir)
    images, _ = _first_batch(load("fashion_mnist", "test", 8))
    assert images.shape == (8, 28, 28, 1)


def test_missing_fashion_files_raise_apt_get_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_PE_FASHION_MNIST_DIR", str(tmp_path / "empty"))
    with pytest.raises(DatasetNotFoundError, match="sudo apt-get install dataset-fashion-mnist"):
        load("fashion_mnist", data_dir=tmp_path / "fresh")


@pytest.mark.parametrize("name", ["cifar10", "mnist", "imagenet2012"])
def test_unprepared_dataset_raises_tfds_build_error(name, tmp_path):
    with pytest.raises(DatasetNotFoundError) as excinfo:
        load(name, data_dir=tmp_path)
    message = str(excinfo.value)
    assert f"tfds build {name} --data_dir=DIR" in message
    assert "data_dir" in message and str(tmp_path) in message
    if name == "imagenet2012":
        assert "manual" in message


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"name": "svhn"}, "name"),
        ({"name": "fashion_mnist", "split": "extra"}, "split"),
        ({"name": "fashion_mnist", "split": "train[abc]"}, "split"),
        ({"name": "fashion_mnist", "batch_size": 0}, "batch_size"),
        ({"name": "fashion_mnist", "batch_size": 2.0}, "batch_size"),
        ({"name": "fashion_mnist", "batch_size": True}, "batch_size"),
        ({"name": "fashion_mnist", "take": 0}, "take"),
        ({"name": "fashion_mnist", "take": -3}, "take"),
        ({"name": "fashion_mnist", "seed": "0"}, "seed"),
        ({"name": "fashion_mnist", "seed": -1}, "seed"),
        ({"name": "fashion_mnist", "shuffle": 1}, "shuffle"),
        ({"name": "fashion_mnist", "augment": "yes"}, "augment"),
        ({"name": "fashion_mnist", "normalize": None}, "normalize"),
        ({"name": "fashion_mnist", "drop_remainder": 0}, "drop_remainder"),
        ({"name": "fashion_mnist", "repeat": None}, "repeat"),
        ({"name": "fashion_mnist", "cache": ""}, "cache"),
        ({"name": "fashion_mnist", "cache": 1}, "cache"),
        ({"name": "imagenet2012", "image_size": 0}, "image_size"),
        ({"name": "fashion_mnist", "data_dir": 5}, "data_dir"),
    ],
)
def test_bad_arguments(kwargs, argument, tmp_path):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        load(**kwargs)


@pytest.fixture
def mocked_tfds():
    """tfds' own mock: random examples with each dataset's real features."""
    with (
        tfds.testing.mock_data(num_examples=24, policy=tfds.testing.MockPolicy.USE_CODE),
        mock.patch.object(tfds.core.DatasetBuilder, "is_prepared", return_value=True),
    ):
        yield


@pytest.mark.parametrize(
    ("name", "split", "shape"),
    [
        ("cifar10", "train", (32, 32, 3)),
        ("cifar10", "test", (32, 32, 3)),
        ("mnist", "train", (28, 28, 1)),
        ("imagenet2012", "train", (64, 64, 3)),
        ("imagenet2012", "test", (64, 64, 3)),
    ],
)
def test_other_datasets_pipeline_shapes(mocked_tfds, name, split, shape):
    ds = load(name, split, 8, image_size=64)
    images, labels = _first_batch(ds)
    assert images.shape == (8, *shape) and images.dtype == np.float32
    assert labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() < catalog.entry(name).num_classes


def test_cifar10_train_is_augmented_by_default(mocked_tfds):
    def batch(**kwargs):
        return _first_batch(load("cifar10", "train", 24, shuffle=False, **kwargs))[0]

    default, again, plain = batch(), batch(), batch(augment=False)
    np.testing.assert_array_equal(default, again)
    assert not np.array_equal(default, plain)
    np.testing.assert_array_equal(_first_batch(load("cifar10", "test", 24))[0], plain)


def test_cache_to_file(fashion_data_dir, tmp_path):
    path = str(tmp_path / "cache")
    ds = load("fashion_mnist", "test", 50, data_dir=fashion_data_dir, take=100, cache=path)
    first = [labels.numpy() for _, labels in ds]
    assert any(p.name.startswith("cache") for p in tmp_path.iterdir())
    np.testing.assert_array_equal(np.concatenate(first), [y for _, y in ds.unbatch()])

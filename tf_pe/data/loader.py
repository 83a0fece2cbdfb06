"""`load`: batched, preprocessed `tf.data` pipelines over tfds datasets, offline."""

from __future__ import annotations

import os

import tensorflow as tf
import tensorflow_datasets as tfds
from absl import logging

from tf_pe.data import catalog, preprocessing, splits
from tf_pe.data.errors import DatasetNotFoundError
from tf_pe.data.fashion_mnist_local import prepare_fashion_mnist
from tf_pe.data.storage import resolve_data_dir

_IMAGENET_DOC = "https://www.tensorflow.org/datasets/catalog/imagenet2012"


def _check_bool(value: object, arg: str, *, optional: bool = False) -> None:
    if not (isinstance(value, bool) or (optional and value is None)):
        allowed = "True, False or None" if optional else "True or False"
        raise ValueError(f"`{arg}` must be {allowed}; got {value!r}.")


def _check_int(value: object, arg: str, *, minimum: int | None, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"`{arg}` must be an integer; got {value!r}.")
    if minimum is not None and value < minimum:
        suffix = " or None" if optional else ""
        raise ValueError(f"`{arg}` must be >= {minimum}{suffix}; got {value!r}.")


def _not_prepared_error(name: str, data_dir: str) -> DatasetNotFoundError:
    manual = ""
    if name == "imagenet2012":
        manual = (
            " ImageNet cannot be downloaded by tfds: first download ILSVRC2012_img_train.tar "
            "and ILSVRC2012_img_val.tar from image-net.org by hand into DIR/downloads/manual/ "
            f"(see {_IMAGENET_DOC})."
        )
    return DatasetNotFoundError(
        f"Dataset {name!r} is not prepared in the tfds data_dir {data_dir!r}, and tf_pe never "
        f"downloads data at run time.{manual} On a machine with network access run "
        f"`tfds build {name} --data_dir=DIR`, copy DIR here if needed, then pass "
        "`data_dir=DIR` (or `--data_dir=DIR` to the tf-pe command line)."
    )


def _builder(name: str, data_dir: str) -> tfds.core.DatasetBuilder:
    """Returns a prepared builder; only fashion_mnist is prepared on demand."""
    if name == "fashion_mnist":
        return prepare_fashion_mnist(data_dir)
    builder = tfds.builder(name, data_dir=data_dir)  # Like tfds.load(download=False).
    if not builder.is_prepared():
        raise _not_prepared_error(name, data_dir)
    return builder


def load(
    name: str,
    split: str = "train",
    batch_size: int = 128,
    *,
    data_dir: str | os.PathLike | None = None,
    normalize: bool = True,
    shuffle: bool | None = None,
    seed: int = 0,
    take: int | None = None,
    augment: bool | None = None,
    drop_remainder: bool = False,
    cache: bool | str = True,
    repeat: bool = False,
    image_size: int = catalog.DEFAULT_IMAGE_SIZE,
) -> tf.data.Dataset:
    """Loads a dataset through tensorflow-datasets as `(images, labels)` batches.

    Nothing is downloaded. `fashion_mnist` is prepared on first use from Debian's
    `dataset-fashion-mnist` files (see `prepare_fashion_mnist`); `mnist`, `cifar10`
    and `imagenet2012` must already be prepared in `data_dir` (`tfds build NAME
    --data_dir=DIR` on a machine with network).

    The pipeline: read (files in order, except for imagenet2012) -> `take` -> `cache`
    -> `shuffle` -> per-example augmentation / ImageNet crops -> batch -> scale to
    `[0, 1]` and `normalize` -> `repeat` -> prefetch (`AUTOTUNE`).

    Args:
        name: One of `available()`: "fashion_mnist", "mnist", "cifar10", "imagenet2012".
        split: "train", "test" or "validation" (each an alias of the other when the
            dataset has only one of them), with optional tfds slicing such as
            "train[:10%]" or "train[1000:2000]". Defaults to "train".
        batch_size: Examples per batch, >= 1. Defaults to `128`.
        data_dir: The tfds data directory. Defaults to `$TFDS_DATA_DIR`, else
            `~/tensorflow_datasets`.
        normalize: If `True`, standardize each channel with the dataset's mean and std
            (constants in `tf_pe.data.catalog`); if `False`, pixels are in `[0, 1]`.
            Defaults to `True`.
        shuffle: Shuffle examples, reshuffling each iteration. `None` (default) means
            `True` for training splits and `False` otherwise.
        seed: Seed (>= 0) of the shuffle and the augmentation. A fixed seed gives the same
            sequence of batches every time the pipeline is built. Defaults to `0`.
        take: Keep only the first `take` examples (>= 1) of the split, before
            shuffling and batching (the same examples for every seed, except for
            imagenet2012, whose files are read in shuffled order when shuffling);
            `None` (default) keeps all.
        augment: Random training augmentation. `None` (default) means `True` for the
            training splits of cifar10 (pad 4, random crop, flip) and imagenet2012
            (random crop and flip after resizing), `False` otherwise. If `True` for
            fashion_mnist: pad 2, random crop, flip; for mnist: pad 2, random crop.
            imagenet2012 without augmentation resizes and takes the central crop.
        drop_remainder: Drop the last batch when smaller than `batch_size`. Defaults
            to `False`.
        cache: `True` caches the decoded examples in memory (after `take`), except for
            imagenet2012, which does not fit; a string caches to that file path.
            Defaults to `True`.
        repeat: Repeat the dataset indefinitely. Defaults to `False`.
        image_size: Side of the square crops of imagenet2012; ignored by the other
            datasets, whose images keep their size. Defaults to `224`.

    Returns:
        A `tf.data.Dataset` of `(images, labels)`: float32 `[B, H, W, C]` and int64 `[B]`.

    Raises:
        ValueError: If an argument is invalid (the message names it).
        DatasetNotFoundError: If the dataset is not prepared and cannot be prepared
            offline; the message names the step that fixes it.
    """
    entry = catalog.entry(name)
    tfds_split, is_train = splits.resolve_split(name, split)
    _check_int(batch_size, "batch_size", minimum=1)
    _check_int(seed, "seed", minimum=0)
    _check_int(take, "take", minimum=1, optional=True)
    catalog.check_image_size(image_size)
    for arg, value in (("normalize", normalize), ("drop_remainder", drop_remainder)):
        _check_bool(value, arg)
    _check_bool(repeat, "repeat")
    _check_bool(shuffle, "shuffle", optional=True)
    _check_bool(augment, "augment", optional=True)
    if not isinstance(cache, bool | str) or cache == "":
        raise ValueError(f"`cache` must be True, False or a non-empty file path; got {cache!r}.")

    shuffle = is_train if shuffle is None else shuffle
    if augment is None:
        augment = is_train and (entry.train_augment is not None or entry.resizes)

    builder = _builder(name, resolve_data_dir(data_dir))
    ds = builder.as_dataset(
        split=tfds_split,
        as_supervised=True,
        # Small datasets get a full-size shuffle buffer; reading their files in order
        # keeps `take` independent of the seed.
        shuffle_files=shuffle and not entry.small,
        read_config=tfds.ReadConfig(shuffle_seed=seed, try_autocache=False),
    )
    if take is not None:
        ds = ds.take(take)
    if isinstance(cache, str):
        ds = ds.cache(cache)
    elif cache and entry.small:
        ds = ds.cache()
    elif cache:
        logging.info("tf_pe.data.load: %s is too large to cache in memory; not cached.", name)
    if shuffle:
        buffer_size = entry.shuffle_buffer if take is None else min(take, entry.shuffle_buffer)
        ds = ds.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
    ds = _map_examples(ds, entry, augment=augment, seed=seed, image_size=image_size)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=tf.data.AUTOTUNE)

    def finish(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        images = preprocessing.scale(images)
        if normalize:
            images = preprocessing.normalize(images, entry.mean, entry.std)
        return images, tf.cast(labels, tf.int64)

    ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE)
    if repeat:
        ds = ds.repeat()
    return ds.prefetch(tf.data.AUTOTUNE)


def _map_examples(
    ds: tf.data.Dataset, entry: catalog.CatalogEntry, *, augment: bool, seed: int, image_size: int
) -> tf.data.Dataset:
    """Applies the per-example transforms (augmentation, ImageNet crops), if any."""
    if not augment:
        if not entry.resizes:
            return ds
        return ds.map(
            lambda image, label: (preprocessing.imagenet_eval(image, image_size), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    # One stateless seed [2] per example from a seeded stream that differs in each
    # iteration (epoch) but is the same whenever the pipeline is rebuilt.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    ds = tf.data.Dataset.zip(ds, seeds)
    if entry.resizes:

        def transform(example, example_seed):
            image, label = example
            return preprocessing.imagenet_train(image, example_seed, image_size), label

    else:
        pad, flip = entry.augment

        def transform(example, example_seed):
            image, label = example
            return preprocessing.pad_crop_flip(image, example_seed, pad=pad, flip=flip), label

    return ds.map(transform, num_parallel_calls=tf.data.AUTOTUNE)

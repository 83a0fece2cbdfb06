"""The datasets tf_pe knows: static facts, available without loading any data.

The command line builds models from `info(name)` before any data is read, so
everything here is a constant table: shapes, class counts, split sizes (from the
tfds catalog pages of each dataset), and the normalization constants.
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Mapping

DEFAULT_IMAGE_SIZE = 224
"""Side of the square crops `load("imagenet2012")` produces by default."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset.

    Attributes:
        name: The dataset name, as accepted by `tf_pe.data.load`.
        input_shape: Shape of one image as `load` yields it, `(height, width, channels)`.
        num_classes: Number of label classes; labels are `0 .. num_classes - 1`.
        num_examples: Read-only mapping from split name to its number of examples.
    """

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    num_examples: Mapping[str, int]


@dataclasses.dataclass(frozen=True)
class CatalogEntry:
    """Internal facts about one dataset (see `_CATALOG`)."""

    input_shape: tuple[int, int, int]
    num_classes: int
    num_examples: dict[str, int]
    # Split names accepted as aliases of the dataset's own split names.
    split_aliases: dict[str, str]
    # Per-channel mean and standard deviation of the pixels scaled to [0, 1].
    mean: tuple[float, ...]
    std: tuple[float, ...]
    # Default training augmentation: (pad, flip) for pad + random crop + flip,
    # None for none. ImageNet's crops are handled separately (`resizes`).
    train_augment: tuple[int, bool] | None
    # Padding and flipping used when `augment=True` is asked for explicitly.
    augment: tuple[int, bool] | None
    # Whether images have varying sizes and are resized/cropped to `image_size`.
    resizes: bool
    # Whether the decoded split fits in memory (caching and a full shuffle buffer).
    small: bool
    shuffle_buffer: int


# Normalization constants, per channel, for pixels scaled to [0, 1]:
# - fashion_mnist: computed by us over the 60,000 training images of the Debian
#   `dataset-fashion-mnist` files (train-images-idx3-ubyte.gz): mean 0.2860405969887955,
#   std 0.3530242445149226 (population std over all 47,040,000 pixels, exact arithmetic);
#   tests/data/test_catalog.py recomputes them from the files.
# - mnist: the widely used 0.1307 / 0.3081, the same statistics over MNIST's
#   60,000 training images (e.g. the PyTorch MNIST example).
# - cifar10: mean and population std over all pixels of CIFAR-10's 50,000 training
#   images (0.4914, 0.4822, 0.4465) / (0.2470, 0.2435, 0.2616); note that the often
#   copied (0.2023, 0.1994, 0.2010) is the mean per-image std, not the dataset std.
# - imagenet2012: torchvision's / Keras' "torch" preprocessing constants, computed on
#   the ILSVRC-2012 training set: (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225).
_CATALOG: dict[str, CatalogEntry] = {
    "fashion_mnist": CatalogEntry(
        input_shape=(28, 28, 1),
        num_classes=10,
        num_examples={"train": 60_000, "test": 10_000},
        split_aliases={"validation": "test"},
        mean=(0.2860405969887955,),
        std=(0.3530242445149226,),
        train_augment=None,
        augment=(2, True),
        resizes=False,
        small=True,
        shuffle_buffer=60_000,
    ),
    "mnist": CatalogEntry(
        input_shape=(28, 28, 1),
        num_classes=10,
        num_examples={"train": 60_000, "test": 10_000},
        split_aliases={"validation": "test"},
        mean=(0.1307,),
        std=(0.3081,),
        train_augment=None,
        augment=(2, False),  # Mirrored digits are not digits.
        resizes=False,
        small=True,
        shuffle_buffer=60_000,
    ),
    "cifar10": CatalogEntry(
        input_shape=(32, 32, 3),
        num_classes=10,
        num_examples={"train": 50_000, "test": 10_000},
        split_aliases={"validation": "test"},
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2470, 0.2435, 0.2616),
        train_augment=(4, True),
        augment=(4, True),
        resizes=False,
        small=True,
        shuffle_buffer=50_000,
    ),
    # tfds' imagenet2012 (5.1.0) also has an unlabeled "test" split (labels -1); it
    # is left out on purpose, and "test" means the labeled validation split.
    "imagenet2012": CatalogEntry(
        input_shape=(DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE, 3),
        num_classes=1000,
        num_examples={"train": 1_281_167, "validation": 50_000},
        split_aliases={"test": "validation"},
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        train_augment=None,
        augment=None,
        resizes=True,
        small=False,
        shuffle_buffer=10_000,
    ),
}


def available() -> list[str]:
    """Returns the names of the datasets `tf_pe.data.load` accepts, sorted."""
    return sorted(_CATALOG)


def entry(name: str) -> CatalogEntry:
    """Returns the internal catalog entry of `name`.

    Raises:
        ValueError: If `name` is not one of `available()`.
    """
    if not isinstance(name, str) or name not in _CATALOG:
        raise ValueError(f"`name` must be one of {available()}; got {name!r}.")
    return _CATALOG[name]


def info(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    image_size: int = DEFAULT_IMAGE_SIZE,
) -> DatasetInfo:
    """Returns static facts about a dataset, without loading or preparing it.

    Args:
        name: One of `available()`.
        data_dir: Accepted for symmetry with `load`; the facts are static and do not
            depend on it, and nothing is read from it. Defaults to `None`.
        image_size: Side of the square crops for datasets whose images are resized
            (`imagenet2012`); ignored by the others. Defaults to `224`.

    Returns:
        A frozen `DatasetInfo`.

    Raises:
        ValueError: If `name` is unknown or `image_size` is not a positive integer.
    """
    del data_dir  # Static table; see the docstring.
    e = entry(name)
    input_shape = e.input_shape
    if e.resizes:
        check_image_size(image_size)
        input_shape = (image_size, image_size, e.input_shape[-1])
    return DatasetInfo(
        name=name,
        input_shape=input_shape,
        num_classes=e.num_classes,
        num_examples=types.MappingProxyType(dict(e.num_examples)),
    )


def check_image_size(image_size: int) -> None:
    """Raises `ValueError` unless `image_size` is a positive integer."""
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"`image_size` must be an integer >= 1; got {image_size!r}.")

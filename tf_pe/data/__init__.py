"""Datasets through tensorflow-datasets, offline.

`load` returns batched, preprocessed `tf.data` pipelines; `info` and `available`
answer without touching any data. Fashion-MNIST is prepared on first use from
Debian's `dataset-fashion-mnist` files; other datasets must already be prepared in a
tfds data_dir. Nothing is ever downloaded.
"""

from tf_pe.data.catalog import DatasetInfo, available, info
from tf_pe.data.errors import DatasetNotFoundError
from tf_pe.data.fashion_mnist_local import LocalFashionMNIST, prepare_fashion_mnist
from tf_pe.data.loader import load

__all__ = [
    "DatasetInfo",
    "DatasetNotFoundError",
    "LocalFashionMNIST",
    "available",
    "info",
    "load",
    "prepare_fashion_mnist",
]

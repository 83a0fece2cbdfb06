"""The example data export takes: arrays, `(x, y)` pairs or `tf.data` pipelines."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

BATCH_SIZE = 256


def _is_dataset(data) -> bool:
    import tensorflow as tf

    return isinstance(data, tf.data.Dataset)


def batches(data, arg: str) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Yields `(x, y)` NumPy batches (`y` None when there are no labels).

    Args:
        data: an array of inputs; a pair `(x, y)` of arrays; or a `tf.data.Dataset`
            of batches, each `x` or `(x, y)` (further elements, such as sample
            weights, are ignored).
        arg: the argument name for error messages.

    Raises:
        ValueError: naming `arg` for anything else, or for `x` and `y` of
            different lengths.
    """
    if _is_dataset(data):
        for element in data.as_numpy_iterator():
            if isinstance(element, tuple | list):
                yield np.asarray(element[0]), np.asarray(element[1])
            else:
                yield np.asarray(element), None
        return
    if isinstance(data, tuple | list) and len(data) == 2:
        x, y = np.asarray(data[0]), np.asarray(data[1])
        if len(x) != len(y):
            raise ValueError(f"`{arg}`: x has {len(x)} examples but y has {len(y)}.")
    elif isinstance(data, np.ndarray):
        x, y = data, None
    else:
        raise ValueError(f"`{arg}` must be an array of inputs, a pair (x, y) of arrays or a "
                         f"tf.data.Dataset of batches; got {type(data).__name__}.")
    for start in range(0, len(x), BATCH_SIZE):
        yield x[start:start + BATCH_SIZE], None if y is None else y[start:start + BATCH_SIZE]

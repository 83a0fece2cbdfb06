"""`tf_pe.export.examples.batches`: arrays, (x, y) pairs and tf.data pipelines."""

import numpy as np
import pytest
import tensorflow as tf

from tf_pe.export.examples import BATCH_SIZE, batches


def test_arrays_are_batched_with_and_without_labels():
    x = np.arange(2 * BATCH_SIZE + 3, dtype=np.float32).reshape(-1, 1)
    y = np.arange(len(x))
    got = list(batches((x, y), "data"))
    assert [len(b[0]) for b in got] == [BATCH_SIZE, BATCH_SIZE, 3]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in got]), y)
    assert all(b[1] is None for b in batches(x, "data"))


def test_datasets_of_pairs_or_inputs():
    x, y = np.ones((10, 2), np.float32), np.arange(10)
    pairs = list(batches(tf.data.Dataset.from_tensor_slices((x, y)).batch(4), "data"))
    assert [len(b[0]) for b in pairs] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in pairs]), y)
    alone = list(batches(tf.data.Dataset.from_tensor_slices(x).batch(5), "data"))
    assert [b[1] for b in alone] == [None, None]


@pytest.mark.parametrize("data, message", [
    ([1, 2, 3], "`test_data` must be an array"),
    ((np.zeros((3, 2)), np.zeros(2)), "`test_data`: x has 3 examples but y has 2"),
])
def test_bad_data_names_the_argument(data, message):
    with pytest.raises(ValueError, match=message):
        list(batches(data, "test_data"))

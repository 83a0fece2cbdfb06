"""`tf_pe.export.report.compare` against hand-computed agreement numbers."""

import keras
import numpy as np
import pytest

from tf_pe.export import convert
from tf_pe.export.report import compare, distinct


@pytest.fixture(scope="module")
def linear():
    """y = x W with a known W, and its float TFLite file."""
    inputs = keras.Input((2,))
    layer = keras.layers.Dense(3, use_bias=False)
    model = keras.Model(inputs, layer(inputs))
    layer.set_weights([np.array([[1, 0, -1], [0, 1, 1]], np.float32)])
    return model, convert(model, sparse=False)[0]


def test_accuracy_and_agreement_match_a_hand_count(linear):
    model, content = linear
    x = np.array([[1, 0], [0, 1], [0, 3], [2, 1]], np.float32)  # argmax 0, 2, 2, 0
    y = np.array([0, 2, 1, 1])
    a = compare(model, content, (x, y))
    assert (a.examples, a.top1_agreement, a.keras_accuracy, a.tflite_accuracy) == (4, 1.0,
                                                                                   0.5, 0.5)
    assert a.max_abs_diff < 1e-6 and a.xnnpack
    one_hot = compare(model, content, (x, np.eye(3)[y]))
    assert one_hot.keras_accuracy == 0.5


def test_no_labels_and_no_examples(linear):
    model, content = linear
    a = compare(model, content, np.ones((3, 2), np.float32))
    assert a.keras_accuracy is None and a.tflite_accuracy is None and a.top1_agreement == 1.0
    with pytest.raises(ValueError, match="no examples"):
        compare(model, content, np.zeros((0, 2), np.float32))


def test_distinct_keeps_first_appearance_order():
    assert distinct(["B", "A", "B", "C", "A"]) == ("B", "A", "C")

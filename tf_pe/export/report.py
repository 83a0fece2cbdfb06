"""What `to_tflite` reports: file, operators, and Keras-vs-TFLite agreement on test data."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from tf_pe.export import interpreter as runtime
from tf_pe.export.examples import batches


@dataclasses.dataclass(frozen=True)
class Agreement:
    """Keras outputs against the TFLite interpreter's on the same examples.

    Attributes:
        examples: how many examples were compared.
        max_abs_diff: the largest absolute difference of any output entry.
        top1_agreement: the fraction of examples whose arg-max output is the
            same (None for outputs with one entry per example).
        keras_accuracy: top-1 accuracy of the Keras model (None without labels).
        tflite_accuracy: top-1 accuracy of the TFLite model (None without labels).
        xnnpack: whether the interpreter ran with its default XNNPACK delegate
            (False: XNNPACK refused the file and TFLite's builtin kernels ran it).
    """

    examples: int
    max_abs_diff: float
    top1_agreement: float | None
    keras_accuracy: float | None
    tflite_accuracy: float | None
    xnnpack: bool


@dataclasses.dataclass(frozen=True)
class TFLiteReport:
    """What `to_tflite` wrote and how well it agrees with the Keras model.

    Attributes:
        path: the `.tflite` file.
        size_bytes: its size.
        quantize: the quantization (None, "dynamic", "float16" or "int8").
        sparse_encoding: whether the file stores any weight tensor in TFLite's
            sparse format (requested with `sparse=True`, used by the converter
            for tensors sparse enough, kept when the default interpreter runs
            the file).
        operators: the distinct operators of the file, in order of first use
            (builtin names such as `CONV_2D`).
        runtime: the interpreter that evaluated it ("ai_edge_litert" or "tf.lite").
        agreement: the comparison on `test_data`, or None when none was given.
    """

    path: str
    size_bytes: int
    quantize: str | None
    sparse_encoding: bool
    operators: tuple[str, ...]
    runtime: str
    agreement: Agreement | None

    def to_dict(self) -> dict:
        """The report as JSON-ready values."""
        return {**dataclasses.asdict(self), "operators": list(self.operators)}


def _labels(y: np.ndarray) -> np.ndarray:
    return np.argmax(y, axis=-1) if y.ndim == 2 and y.shape[-1] > 1 else y.reshape(-1)


def compare(model: keras.Model, model_content: bytes, test_data) -> Agreement:
    """Runs `model` and the TFLite flatbuffer on `test_data` and compares outputs.

    The interpreter uses its default XNNPACK delegate; if XNNPACK refuses the
    file (see `tf_pe.export.interpreter.load`), TFLite's builtin kernels run it
    and the result says so (`xnnpack=False`).

    Args:
        model: the Keras model (one input, one output).
        model_content: the `.tflite` bytes.
        test_data: see `tf_pe.export.examples.batches`; labels (sparse class
            ids or one-hot) give the accuracies.

    Returns:
        An `Agreement`.

    Raises:
        ValueError: for unusable `test_data`, no examples, or a model with
            several inputs or outputs.
    """
    try:
        return _compare(model, runtime.make_interpreter(model_content, True), test_data, True)
    except RuntimeError:  # XNNPACK failed to prepare; anything else fails again below
        return _compare(model, runtime.make_interpreter(model_content, False), test_data,
                        False)


def _compare(model, interp, test_data, delegated: bool) -> Agreement:
    count, diff, same, hits_keras, hits_lite, labelled, classes = 0, 0.0, 0, 0, 0, True, True
    for x, y in batches(test_data, "test_data"):
        expected = keras.ops.convert_to_numpy(model(x, training=False))
        got = runtime.predict(interp, x)
        diff = max(diff, float(np.max(np.abs(got.astype(np.float64) - expected))))
        count += len(x)
        classes = classes and expected.ndim == 2 and expected.shape[-1] > 1
        if classes:
            same += int(np.sum(np.argmax(got, -1) == np.argmax(expected, -1)))
        labelled = labelled and y is not None
        if classes and labelled:
            labels = _labels(y)
            hits_keras += int(np.sum(np.argmax(expected, -1) == labels))
            hits_lite += int(np.sum(np.argmax(got, -1) == labels))
    if count == 0:
        raise ValueError("`test_data` has no examples.")
    scored = classes and labelled
    return Agreement(examples=count, max_abs_diff=diff,
                     top1_agreement=same / count if classes else None,
                     keras_accuracy=hits_keras / count if scored else None,
                     tflite_accuracy=hits_lite / count if scored else None,
                     xnnpack=delegated)


def distinct(names) -> tuple[str, ...]:
    """`names` without repeats, in order of first appearance."""
    return tuple(dict.fromkeys(names))

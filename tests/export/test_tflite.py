"""`tf_pe.export.to_tflite`: builtin operators only, agreement with Keras on real
Fashion-MNIST test images (float within a tolerance, quantized within an accuracy
delta), the sparsity encoding, and bad input."""

import json

import keras
import numpy as np
import pytest
from tensorflow.lite.python import schema_py_generated as schema

from tests.export.conftest import TF_PE_TYPES
from tf_pe import layers
from tf_pe.export import convert, to_tflite
from tf_pe.export import interpreter as runtime
from tf_pe.export.tflite import has_sparse_tensors

FLOAT_ATOL = 1e-4  # float32 logits of magnitude ~10 through other kernels (XNNPACK)
# Quantized: accuracy on the same 1,000 test images within 2 points of Keras', and the
# same top-1 class on at least 95% of them (measured deltas are well inside; see
# docs/benchmarks.md "Export (issue 8)").
ACCURACY_DELTA, MIN_AGREEMENT = 0.02, 0.95
_BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items()
                  if not k.startswith("_")}


def _flatbuffer_operators(path) -> set[str]:
    """Operator names read straight from the flatbuffer's operator codes."""
    with open(path, "rb") as f:
        model = schema.Model.GetRootAs(f.read(), 0)
    names = set()
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        assert builtin != schema.BuiltinOperator.CUSTOM, code.CustomCode()
        names.add(_BUILTIN_NAMES[builtin])
    return names


def _accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0), -1) == y))


@pytest.mark.parametrize("name", list(TF_PE_TYPES))
def test_float_is_builtin_only_and_matches_keras(trained, fashion, tmp_path, name):
    model = trained[name]
    _, x, y = fashion
    path = tmp_path / "m.tflite"
    report = to_tflite(model, str(path), test_data=(x, y))
    assert report.size_bytes == path.stat().st_size
    assert set(report.operators) == _flatbuffer_operators(path)
    assert "CONV_2D" in report.operators and "FULLY_CONNECTED" in report.operators
    a = report.agreement
    assert a.examples == len(x) and a.max_abs_diff <= FLOAT_ATOL
    assert a.top1_agreement >= 0.999
    assert a.keras_accuracy == pytest.approx(_accuracy(model, x, y), abs=1e-3)
    assert a.tflite_accuracy == pytest.approx(a.keras_accuracy, abs=1e-3)
    assert a.keras_accuracy > 0.5  # trained, so the quantized deltas below mean something
    assert json.loads(json.dumps(report.to_dict()))["agreement"]["examples"] == len(x)


@pytest.mark.parametrize("quantize", ["dynamic", "int8"])
@pytest.mark.parametrize("name", list(TF_PE_TYPES))
def test_quantized_is_builtin_only_and_keeps_accuracy(trained, fashion, tmp_path, name,
                                                      quantize):
    model = trained[name]
    train, x, y = fashion
    path = tmp_path / "m.tflite"
    representative = train.take(4) if quantize == "int8" else None
    report = to_tflite(model, str(path), quantize=quantize, representative_data=representative,
                       test_data=(x, y))
    assert set(report.operators) == _flatbuffer_operators(path)
    if quantize == "int8":
        assert {"QUANTIZE", "DEQUANTIZE"} <= set(report.operators)
    a = report.agreement
    assert abs(a.tflite_accuracy - a.keras_accuracy) <= ACCURACY_DELTA, a
    assert a.top1_agreement >= MIN_AGREEMENT, a
    assert a.xnnpack  # every file runs with the default interpreter settings


def test_float16_halves_the_file_and_matches(trained, fashion, tmp_path):
    _, x, _ = fashion
    model = trained["channel"]
    full = to_tflite(model, str(tmp_path / "f32.tflite"), sparse=False)
    half = to_tflite(model, str(tmp_path / "f16.tflite"), quantize="float16", sparse=False,
                     test_data=x[:200])
    assert half.size_bytes < 0.6 * full.size_bytes
    assert half.agreement.max_abs_diff <= 1e-2 and half.agreement.keras_accuracy is None


def _sparse_dense_model():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((784,))
    return keras.Model(inputs, layers.MaskedDense(256, density=0.1, seed=0)(inputs))


def test_sparsity_encoding_shrinks_a_sparse_kernel(tmp_path):
    model = _sparse_dense_model()
    x = np.random.default_rng(0).normal(size=(16, 784)).astype("float32")
    dense = to_tflite(model, str(tmp_path / "dense.tflite"), sparse=False, test_data=x)
    sparse = to_tflite(model, str(tmp_path / "sparse.tflite"), sparse=True, test_data=x)
    assert not dense.sparse_encoding and sparse.sparse_encoding
    assert "DENSIFY" not in dense.operators and "DENSIFY" in sparse.operators
    assert sparse.size_bytes < 0.5 * dense.size_bytes
    assert sparse.agreement.max_abs_diff <= FLOAT_ATOL and sparse.agreement.xnnpack
    assert sparse.agreement.top1_agreement == 1.0  # argmax over the 256 outputs


def test_sparse_files_always_run_with_xnnpack(tmp_path):
    x = np.random.default_rng(0).normal(size=(64, 784)).astype("float32")
    content, encoded = convert(_sparse_dense_model(), quantize="int8", representative_data=x)
    assert runtime.runs_with_xnnpack(content)
    # Whether the sparse int8 file was kept depends on the runtime; either way the
    # flag must tell the truth about the file.
    assert encoded == has_sparse_tensors(content)


def test_dense_weights_are_not_reported_sparse(trained, tmp_path):
    report = to_tflite(trained["lre"], str(tmp_path / "m.tflite"), sparse=True)
    assert not report.sparse_encoding and "DENSIFY" not in report.operators


def _tiny():
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(3)(inputs))


@pytest.mark.parametrize("kwargs, message", [
    ({"quantize": "int8"}, r"quantize='int8'.*needs `representative_data`.*pass"),
    ({"quantize": "int4"}, r"`quantize` must be one of"),
    ({"quantize": "none"}, r"`quantize` must be one of"),
    ({"sparse": "yes"}, r"`sparse` must be True or False"),
    ({"quantize": "dynamic", "representative_data": np.zeros((2, 4))},
     r"`representative_data` is only used with quantize='int8'"),
])
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        convert(_tiny(), **kwargs)


def test_bad_test_data_and_non_models(tmp_path):
    with pytest.raises(ValueError, match="`test_data` must be"):
        to_tflite(_tiny(), str(tmp_path / "m.tflite"), test_data=[1, 2, 3])
    with pytest.raises(ValueError, match=r"`model` must be a keras\.Model"):
        convert(keras.layers.Dense(3))


def test_operation_without_builtin_is_named():
    import tensorflow as tf

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(tf.math.erfinv, name="inv")(inputs),
                        name="special")
    with pytest.raises(ValueError, match=r"'special'.*no builtin operator.*Erfinv"):
        convert(model)

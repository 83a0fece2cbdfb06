"""`to_tflite`: a TFLite flatbuffer with builtin operators only, and a report on it.

The model is stripped to plain Keras layers (`tf_pe.export.strip`), exported as a
SavedModel and converted with `tf.lite.TFLiteConverter` restricted to TFLite's
builtin operator set (`TFLITE_BUILTINS`; `TFLITE_BUILTINS_INT8` for full integer
quantization), so the file runs on any TFLite / LiteRT runtime with no custom op.
Quantization follows the TFLite post-training guide:

| `quantize` | weights | activations | converter settings |
|---|---|---|---|
| None | float32 | float32 | - |
| `"dynamic"` | int8 | float32 (int8 inside some kernels) | `Optimize.DEFAULT` |
| `"float16"` | float16 | float32 | `DEFAULT`, `supported_types=[float16]` |
| `"int8"` | int8 | int8 (float32 model input/output) | `DEFAULT`, representative data, |
|  |  |  | `TFLITE_BUILTINS_INT8` |

With `sparse=True` the converter's `Optimize.EXPERIMENTAL_SPARSITY` stores
weight tensors that are sparse enough in TFLite's compressed sparse format
(decompressed by a `DENSIFY` operator at load time: a smaller file, not faster
inference). LiteRT 2.3's default XNNPACK delegate refuses some such files
(measured: dynamic-range and int8 files with sparse kernels); those are written
without the encoding, so that every file runs with default interpreter settings.
"""

from __future__ import annotations

import os
import re
import tempfile

import keras
import numpy as np

from tf_pe.export import interpreter as runtime
from tf_pe.export.examples import batches
from tf_pe.export.report import TFLiteReport, compare, distinct
from tf_pe.export.strip import strip

QUANTIZATIONS = (None, "dynamic", "float16", "int8")


def _check_arguments(model, quantize, representative_data, sparse) -> None:
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"`quantize` must be one of None, 'dynamic', 'float16' or 'int8'; "
                         f"got {quantize!r}.")
    if not isinstance(sparse, bool):
        raise ValueError(f"`sparse` must be True or False, got {sparse!r}.")
    if quantize == "int8" and representative_data is None:
        raise ValueError(
            "`quantize='int8'` needs `representative_data` to calibrate activation ranges: "
            "pass about 100-500 typical inputs, e.g. `representative_data=x_train[:200]`, a "
            "tf.data.Dataset of (images, labels) batches, or a generator function that "
            "yields [input] lists.")
    if quantize != "int8" and representative_data is not None:
        raise ValueError(f"`representative_data` is only used with quantize='int8', not with "
                         f"quantize={quantize!r}.")


def _representative(data):
    if callable(data):
        return data

    def examples():
        for x, _ in batches(data, "representative_data"):
            for i in range(len(x)):
                yield [np.asarray(x[i:i + 1], np.float32)]

    return examples


def _converter(saved_model_dir: str, quantize, representative_data, sparse):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    optimizations = [] if quantize is None else [tf.lite.Optimize.DEFAULT]
    if sparse:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        converter.representative_dataset = _representative(representative_data)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter


def convert(model: keras.Model, quantize=None, representative_data=None,
            sparse=True) -> tuple[bytes, bool]:
    """Returns `(flatbuffer, sparse_encoding)` for `model` (arguments as in
    `to_tflite`); `sparse_encoding` says whether the file stores any tensor in
    TFLite's sparse format (the converter only encodes tensors sparse enough).

    Raises:
        ValueError: as `to_tflite`.
    """
    _check_arguments(model, quantize, representative_data, sparse)
    stripped = strip(model)
    with tempfile.TemporaryDirectory() as tmp:
        stripped.export(tmp, format="tf_saved_model", verbose=False)
        content = _run_converter(model, tmp, quantize, representative_data, sparse)
        if not sparse or runtime.runs_with_xnnpack(content):
            return content, has_sparse_tensors(content)
        # LiteRT's default XNNPACK delegate refuses this sparse file (measured for
        # sparse dynamic-range and int8 files): give a file every runtime can run.
        return _run_converter(model, tmp, quantize, representative_data, False), False


def has_sparse_tensors(content: bytes) -> bool:
    """Whether a TFLite flatbuffer stores any tensor in the sparse format."""
    from tensorflow.lite.python import schema_py_generated as schema  # the file format

    model = schema.Model.GetRootAs(content, 0)
    return any(graph.Tensors(i).Sparsity() is not None
               for graph in (model.Subgraphs(j) for j in range(model.SubgraphsLength()))
               for i in range(graph.TensorsLength()))


def _run_converter(model, saved_model_dir, quantize, representative_data, sparse) -> bytes:
    from tensorflow.lite.python.convert_phase import ConverterError  # not in tf.lite's API

    converter = _converter(saved_model_dir, quantize, representative_data, sparse)
    try:
        return converter.convert()
    except ConverterError as e:
        raise ValueError(_conversion_error(model, e)) from e


def _conversion_error(model, error) -> str:
    text = str(error)
    missing = sorted(set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op",
                                    text)))
    if missing:
        return (f"Cannot convert model {model.name!r} to TFLite builtin operators: TFLite has "
                f"no builtin operator for the TensorFlow operation(s) {', '.join(missing)}; "
                "replace the layers that use them.")
    return f"Cannot convert model {model.name!r} to TFLite: {text.splitlines()[0]}"


def to_tflite(model: keras.Model, path: str, quantize: str | None = None,
              representative_data=None, sparse: bool = True, test_data=None) -> TFLiteReport:
    """Writes `model` as a `.tflite` file that uses TFLite builtin operators only.

    Args:
        model: a built functional or Sequential `keras.Model` (tf_pe layers are
            stripped first, see `tf_pe.export.strip`).
        path: the file to write (its directory is created).
        quantize: None (float32), `"dynamic"` (int8 weights), `"float16"` or
            `"int8"` (full integer; needs `representative_data`). Defaults to None.
        representative_data: `quantize="int8"` only: typical inputs that
            calibrate activation ranges: an array, an `(x, y)` pair, a
            `tf.data.Dataset` of `x` or `(x, y)` batches, or a function returning
            an iterable of `[input]` lists (TFLite's own form). Defaults to None.
        sparse: store sparse weight tensors in TFLite's sparse format
            (`tf.lite.Optimize.EXPERIMENTAL_SPARSITY`), unless the default
            LiteRT interpreter (XNNPACK delegate) then cannot run the file, in
            which case the file is written without it (`report.sparse_encoding`
            says which). Defaults to True.
        test_data: examples for the report's agreement check: an array, an
            `(x, y)` pair or a `tf.data.Dataset` of batches; with labels the
            report gives both accuracies. Defaults to None (no check).

    Returns:
        A `TFLiteReport`: size, operators, and agreement on `test_data`.

    Raises:
        ValueError: for a bad argument (naming it), `quantize="int8"` without
            `representative_data` (saying what to pass), a layer `strip` cannot
            convert, or an operation with no TFLite builtin equivalent.
    """
    if not isinstance(path, str | os.PathLike) or not str(path):
        raise ValueError(f"`path` must be a file path, got {path!r}.")
    content, encoded = convert(model, quantize, representative_data, sparse)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "wb") as f:
        f.write(content)
    agreement = None if test_data is None else compare(model, content, test_data)
    return TFLiteReport(path=path, size_bytes=len(content), quantize=quantize,
                        sparse_encoding=encoded,
                        operators=distinct(runtime.operators(content)),
                        runtime=runtime.runtime_name(), agreement=agreement)

"""`tf-pe export RUN_DIR`: export a training run's model and check it on the test set."""

from __future__ import annotations

import json
import os

import numpy as np

from tf_pe.export.saved_model import to_saved_model
from tf_pe.export.tflite import QUANTIZATIONS, to_tflite

FORMATS = ("saved_model", "tflite")


def default_output(run_dir: str, format: str, quantize: str | None) -> str:
    """`RUN_DIR/saved_model`, `RUN_DIR/model.tflite`, or `RUN_DIR/model.QUANTIZE.tflite`."""
    if format == "saved_model":
        return os.path.join(run_dir, "saved_model")
    return os.path.join(run_dir, "model.tflite" if quantize is None
                        else f"model.{quantize}.tflite")


def _check(run_dir, format, quantize, keep_custom_op) -> tuple[str, str]:
    if format not in FORMATS:
        raise ValueError(f"`format` must be one of {', '.join(FORMATS)}; got {format!r}.")
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"`quantize` must be one of none, dynamic, float16 or int8; "
                         f"got {quantize!r}.")
    if format == "saved_model" and quantize is not None:
        raise ValueError("`quantize` applies to format 'tflite' only.")
    if format == "tflite" and keep_custom_op:
        raise ValueError("`keep_custom_op` applies to format 'saved_model' only (TFLite files "
                         "use builtin operators only).")
    paths = (os.path.join(run_dir, "model.keras"), os.path.join(run_dir, "run.json"))
    for path in paths:
        if not os.path.isfile(path):
            raise ValueError(f"no {os.path.basename(path)} in `run_dir` {run_dir!r} (a "
                             "`tf-pe train` run directory)")
    return paths


def _saved_model_accuracy(path, test_ds) -> float:
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    hits = count = 0
    for x, y in test_ds.as_numpy_iterator():
        hits += int(np.sum(np.argmax(loaded.serve(x).numpy(), -1) == y))
        count += len(y)
    return hits / count


def export_run(run_dir: str, format: str = "tflite", quantize: str | None = None,
               out: str | None = None, data_dir: str | None = None,
               eval_take: int | None = None, representative_take: int = 500,
               sparse: bool = True, keep_custom_op: bool = False, print_fn=print) -> dict:
    """Exports `RUN_DIR/model.keras` and measures it on the run's test split.

    Args:
        run_dir: a `tf-pe train` run directory (`model.keras`, `run.json`).
        format: `"tflite"` or `"saved_model"`. Defaults to `"tflite"`.
        quantize: TFLite quantization (see `to_tflite`). Defaults to None.
        out: the output path. Defaults to None (`default_output`).
        data_dir: tfds data dir. Defaults to None (the run's).
        eval_take: evaluate on the first N test examples. Defaults to None (all).
        representative_take: `"int8"`: calibrate on the first N training
            examples. Defaults to 500.
        sparse: TFLite sparsity encoding. Defaults to True.
        keep_custom_op: SavedModel only: keep the custom op (see
            `to_saved_model`). Defaults to False.
        print_fn: where the summary line goes; None for silence.

    Returns:
        The report as a dict (`TFLiteReport.to_dict()`, or the SavedModel's
        report with `"test_accuracy"`).

    Raises:
        ValueError: for a bad argument, a directory that is not a run, or a
            model that cannot be exported.
    """
    import keras

    from tf_pe import data

    model_path, record_path = _check(run_dir, format, quantize, keep_custom_op)
    with open(record_path) as f:
        config = json.load(f).get("config", {})
    dataset = config.get("dataset", "fashion_mnist")
    data_dir = data_dir or config.get("data_dir")
    out = out or default_output(run_dir, format, quantize)
    model = keras.saving.load_model(model_path)
    test_ds = data.load(dataset, "test", 256, data_dir=data_dir, shuffle=False, take=eval_take)
    say = print_fn or (lambda *_: None)
    if format == "saved_model":
        report = to_saved_model(model, out, keep_custom_op=keep_custom_op).to_dict()
        report["test_accuracy"] = _saved_model_accuracy(out, test_ds)
        say(f"Wrote {out}: {report['size_bytes']:,} bytes; test accuracy "
            f"{report['test_accuracy']:.2%} on the {dataset} test split.")
        return report
    representative = None
    if quantize == "int8":
        representative = data.load(dataset, "train", 100, data_dir=data_dir, shuffle=False,
                                   take=representative_take)
    report = to_tflite(model, out, quantize=quantize, representative_data=representative,
                       sparse=sparse, test_data=test_ds)
    a = report.agreement
    say(f"Wrote {out}: {report.size_bytes:,} bytes, builtin operators "
        f"{', '.join(report.operators)}.\nTFLite test accuracy {a.tflite_accuracy:.2%} on "
        f"{a.examples:,} {dataset} test images (Keras {a.keras_accuracy:.2%}, same top-1 "
        f"class on {a.top1_agreement:.2%}, max |difference| {a.max_abs_diff:.2g}).")
    return report.to_dict()

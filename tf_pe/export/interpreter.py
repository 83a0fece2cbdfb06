"""Running TFLite files: LiteRT (`ai_edge_litert`) when installed, else `tf.lite`.

`tf.lite.Interpreter` is deprecated in favour of LiteRT (the `ai-edge-litert`
package, the same runtime); both take the same arguments.
"""

from __future__ import annotations

import time

import numpy as np


def _runtime():
    try:
        from ai_edge_litert import interpreter as litert
    except ImportError:
        import tensorflow as tf

        return tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    return litert.Interpreter, litert.OpResolverType


def runtime_name() -> str:
    """`"ai_edge_litert"` or `"tf.lite"`: the interpreter this process uses."""
    interpreter, _ = _runtime()
    return "ai_edge_litert" if interpreter.__module__.startswith("ai_edge_litert") else "tf.lite"


def make_interpreter(model_content: bytes, delegates: bool = True, num_threads: int | None = None):
    """Returns an interpreter for a TFLite flatbuffer.

    Args:
        model_content: the `.tflite` file's bytes.
        delegates: apply the default delegate (XNNPACK on CPU), as phones do;
            False runs TFLite's builtin kernels only. Defaults to True.
        num_threads: interpreter threads; None lets the runtime choose.
            Defaults to None.
    """
    interpreter, resolver = _runtime()
    kind = resolver.AUTO if delegates else resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    return interpreter(model_content=model_content, num_threads=num_threads,
                       experimental_op_resolver_type=kind)


def load(model_content: bytes, example: np.ndarray, num_threads: int | None = None):
    """Returns `(interpreter, delegated)`, ready for inputs shaped like `example`:
    with the default XNNPACK delegate when it runs the model on `example`, else
    with TFLite's builtin kernels (`delegated` False). LiteRT 2.3's XNNPACK fails
    to prepare some sparse quantized files (measured: `sparse=True` with
    `"dynamic"` or `"int8"` on models with sparse kernels)."""
    interp = make_interpreter(model_content, True, num_threads)
    try:
        predict(interp, example)
    except RuntimeError:
        interp = make_interpreter(model_content, False, num_threads)
        predict(interp, example)
        return interp, False
    return interp, True


def runs_with_xnnpack(model_content: bytes) -> bool:
    """Whether the default interpreter (with its XNNPACK delegate) can run the
    model, tried on zero inputs of batch 2 (unknown dimensions set to 2)."""
    interp = make_interpreter(model_content, True)
    try:
        for spec in interp.get_input_details():
            shape = [2 if d < 0 else int(d) for d in spec["shape_signature"]]
            interp.resize_tensor_input(spec["index"], shape)
        interp.allocate_tensors()
        for spec in interp.get_input_details():
            interp.set_tensor(spec["index"], np.zeros(spec["shape"], spec["dtype"]))
        interp.invoke()
    except RuntimeError:
        return False
    return True


def operators(model_content: bytes) -> list[str]:
    """The model's operators in execution order (builtin names such as `CONV_2D`,
    or a custom op's name), without delegation."""
    return [op["op_name"] for op in make_interpreter(model_content, False)._get_ops_details()]


def predict(interpreter, x: np.ndarray) -> np.ndarray:
    """Runs a one-input, one-output model on the batch `x` (resizing the input
    and allocating tensors as needed); returns the output."""
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"Only one-input, one-output models can be evaluated; this one has "
                         f"{len(inputs)} inputs and {len(outputs)} outputs.")
    spec = inputs[0]
    if tuple(spec["shape"]) != x.shape:
        interpreter.resize_tensor_input(spec["index"], list(x.shape))
    interpreter.allocate_tensors()  # cheap when nothing changed
    interpreter.set_tensor(spec["index"], np.asarray(x, dtype=spec["dtype"]))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def latency_s(interpreter, example: np.ndarray, runs: int) -> list[float]:
    """Wall-clock seconds of each of `runs` invocations on one example (batch 1),
    after one untimed warm-up invocation."""
    predict(interpreter, example)
    spec = interpreter.get_input_details()[0]
    times = []
    for _ in range(runs):
        interpreter.set_tensor(spec["index"], np.asarray(example, dtype=spec["dtype"]))
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    return times

"""Lazy loading of the compiled op library, with a pure-TF fallback.

The library `_sparse_channel_conv2d_ops.so` is built by `python setup.py build_ext
--inplace` (run by `make setup`) or by Bazel (`make bazel`). It is loaded on first
use; when it is missing, cannot be loaded (for example built against another
TensorFlow: `tf.errors.NotFoundError`), or the environment sets `TF_PE_PY_OPS=1`,
`load()` returns None after ONE warning and callers use the pure-TF reference.
The pattern follows tensorflow/addons' `LazySO`.
"""

from __future__ import annotations

import os
import threading
import warnings

import tensorflow as tf

LIBRARY_NAME = "_sparse_channel_conv2d_ops.so"
_lock = threading.Lock()
_state: dict = {}


def library_path() -> str:
    """The path of the library (`TF_PE_OP_LIBRARY` overrides, e.g. a Bazel build)."""
    return os.environ.get("TF_PE_OP_LIBRARY") or os.path.join(os.path.dirname(__file__),
                                                              LIBRARY_NAME)


def python_ops_forced() -> bool:
    """Whether `TF_PE_PY_OPS=1` asks for the pure-TF fallback."""
    return os.environ.get("TF_PE_PY_OPS", "0") not in ("", "0")


def load():
    """Returns the loaded op module, or None (after one warning) when unavailable."""
    if python_ops_forced():
        with _lock:
            if not _state.get("warned_forced"):
                _state["warned_forced"] = True
                warnings.warn("tf_pe: TF_PE_PY_OPS=1, the custom ops use their pure-TF "
                              "fallbacks (SparseChannelConv2D the masked tf.nn.conv2d).",
                              RuntimeWarning, stacklevel=2)
        return None
    with _lock:
        if "module" not in _state:
            path = library_path()
            try:
                if not os.path.exists(path):
                    raise tf.errors.NotFoundError(None, None, f"{path} does not exist")
                _state["module"] = tf.load_op_library(path)
            except tf.errors.NotFoundError as error:
                _state["module"] = None
                warnings.warn(
                    f"tf_pe: the custom op library could not be loaded ({error}); "
                    "SparseChannelConv2D uses the masked tf.nn.conv2d fallback. Build it "
                    "with `python setup.py build_ext --inplace` (or `make setup`).",
                    RuntimeWarning, stacklevel=2)
        return _state["module"]


def reset():
    """Forgets the load attempt (tests use it after changing the environment)."""
    with _lock:
        _state.clear()

"""Fuzzes the custom ops with hypothesis; run as a subprocess by
`test_op_fuzz.py` so that a crash (abort, segfault) shows as a crash.

    python -m tests.robustness.op_fuzz_worker EXAMPLES

Each example is a consistent (input, kernel, structure, gradient) set with at
most one argument broken (rank, structure, attributes, sizes, dtype); each of
the forward and both gradient ops is called on it and must return a tensor or
raise `tf.errors.InvalidArgumentError` (or `ValueError`/`TypeError` from
Python-side attribute checks). The channel gather and its scatter get random
shapes, indices (in and out of range), depths and update lengths the same way.
Prints one JSON line: `{"examples": calls, "errors": n, "results": n}`.
"""

import json
import sys

import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tf_pe.ops import loader

COUNTS = {"examples": 0, "errors": 0, "results": 0}
MUTATIONS = ("none", "input_rank", "kernel_rank", "indptr", "indices", "strides", "dilations",
             "sizes", "out_backprop", "dtype", "empty")


def _call(fn, *args, **kwargs):
    COUNTS["examples"] += 1
    try:
        np.asarray(fn(*args, **kwargs))
        COUNTS["results"] += 1
    except (tf.errors.InvalidArgumentError, ValueError, TypeError):
        COUNTS["errors"] += 1


def _case(data):
    """A consistent call, then at most one argument broken (`MUTATIONS`)."""
    cin, cout = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    rows = [sorted(data.draw(st.sets(st.integers(0, cin - 1), max_size=cin)))
            for _ in range(cout)]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype("int32")
    indices = np.array([i for r in rows for i in r], "int32")
    batch, height, width = (data.draw(st.integers(0, 2)), data.draw(st.integers(0, 7)),
                            data.draw(st.integers(0, 7)))
    strides = [data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))]
    dilations = [data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))]
    padding = data.draw(st.sampled_from(["SAME", "VALID"]))
    dtype = data.draw(st.sampled_from(["float32", "float64"]))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, height, width, cin)).astype(dtype)
    kernel = rng.normal(size=(kh, kw, len(indices))).astype(dtype)
    out_shape = [batch, *(_out(n, k, s, d, padding) for n, k, s, d in
                          zip((height, width), (kh, kw), strides, dilations, strict=True)), cout]
    grad = rng.normal(size=[max(n, 0) for n in out_shape]).astype(dtype)
    sizes = {"input": np.array(x.shape, "int32"), "kernel": np.array(kernel.shape, "int32")}
    mutation = data.draw(st.sampled_from(MUTATIONS))
    ints = st.integers(-3, 9)
    if mutation == "input_rank":
        x = x.reshape((*x.shape[:data.draw(st.integers(0, 3))], -1) if x.size else (0,))
    elif mutation == "kernel_rank":
        kernel = kernel.reshape(-1) if data.draw(st.booleans()) else kernel[..., None]
    elif mutation == "indptr":
        indptr = np.array(data.draw(st.lists(ints, max_size=7)), "int32")
    elif mutation == "indices":
        indices = np.array(data.draw(st.lists(ints, min_size=len(indices),
                                              max_size=len(indices))), "int32")
    elif mutation == "strides":
        strides = data.draw(st.lists(st.integers(-2, 4), max_size=3))
    elif mutation == "dilations":
        dilations = data.draw(st.lists(st.integers(-2, 4), max_size=3))
    elif mutation == "sizes":
        sizes = {k: np.array(data.draw(st.lists(st.integers(-3, 9), max_size=5)), "int32")
                 for k in sizes}
    elif mutation == "out_backprop":
        grad = rng.normal(size=data.draw(st.lists(st.integers(0, 4), max_size=5))).astype(dtype)
    elif mutation == "dtype":
        kernel = kernel.astype("float64" if dtype == "float32" else "float32")
    elif mutation == "empty":
        indptr, indices = np.zeros(cout + 1, "int32"), np.zeros(0, "int32")
        kernel = kernel[..., :0]
    attrs = {"strides": strides, "dilations": dilations, "padding": padding}
    return x, kernel, indptr, indices, grad, sizes, attrs


def _out(n, k, s, d, padding):
    span = (k - 1) * d + 1
    return -(-n // s) if padding == "SAME" else -(-(n - span + 1) // s)


def _gather_case(data):
    """Params, a gather index and scatter arguments, each possibly out of range."""
    shape = data.draw(st.lists(st.integers(0, 4), min_size=0, max_size=4))
    depth = shape[-1] if shape else 0
    index = np.array(data.draw(st.lists(st.integers(-3, depth + 2), max_size=6)), "int32")
    scatter_depth = data.draw(st.integers(-2, depth + 3))
    updates_last = data.draw(st.sampled_from([len(index), len(index) + 1, 0]))
    dtype = data.draw(st.sampled_from(["float32", "float64", "float16", "bfloat16"]))
    params = tf.constant(np.ones(shape, "float32"), dtype)
    updates = tf.constant(np.ones([*shape[:-1], updates_last], "float32"), dtype)
    return params, index, updates, np.int32(scatter_depth)


def fuzz(examples: int) -> None:
    module = loader.load()

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def one(data):
        x, kernel, indptr, indices, grad, sizes, attrs = _case(data)
        _call(module.tf_pe_sparse_channel_conv2d, x, kernel, indptr, indices, **attrs)
        _call(module.tf_pe_sparse_channel_conv2d_backprop_input, sizes["input"], kernel,
              indptr, indices, grad, **attrs)
        _call(module.tf_pe_sparse_channel_conv2d_backprop_kernel, x, sizes["kernel"], indptr,
              indices, grad, **attrs)

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def gather(data):
        params, index, updates, depth = _gather_case(data)
        _call(module.tf_pe_gather_channels, params, index)
        _call(module.tf_pe_scatter_add_channels, updates, index, depth)

    one()
    gather()


if __name__ == "__main__":
    fuzz(int(sys.argv[1]))
    print(json.dumps(COUNTS))

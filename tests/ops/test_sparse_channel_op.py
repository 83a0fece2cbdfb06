"""The custom op against an independent reference (masked tf.nn.conv2d), its
gradients, bad input, the loader's fallback, and SavedModel loading."""

import itertools
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tf_pe.ops import (
    compact_conv2d,
    compact_from_mask,
    compact_structure,
    loader,
    reference,
)
from tf_pe.sparsity import patterns

MODULE = loader.load()
RNG_OP = np.random.default_rng(5)
needs_op = pytest.mark.skipif(MODULE is None, reason="op library not built (make setup)")
pytestmark = needs_op


@pytest.fixture(params=["nhwc", "planes"])
def cpu_kernel(request, monkeypatch):
    """Runs a test on each CPU kernel family (the op reads TF_PE_CPU_KERNEL per call)."""
    monkeypatch.setenv("TF_PE_CPU_KERNEL", request.param)
    return request.param


def op(x, compact, indptr, indices, strides=(1, 1), padding="SAME", dilations=(1, 1)):
    return MODULE.tf_pe_sparse_channel_conv2d(x, compact, indptr, indices, strides=strides,
                                              padding=padding, dilations=dilations)


def masked_conv(x, kernel, mask, strides, padding, dilations):
    """Written independently of tf_pe: conv2d with the kernel times the mask."""
    return tf.nn.conv2d(x, kernel * mask[None, None], strides=strides, padding=padding,
                        dilations=dilations)


def case(seed, dtype="float32"):
    rng = np.random.default_rng(seed)
    batch, rows, cols = rng.integers(1, 4), rng.integers(3, 12), rng.integers(3, 12)
    cin, cout = rng.integers(1, 20), rng.integers(1, 20)
    kh, kw = rng.integers(1, 4), rng.integers(1, 4)
    padding = ["SAME", "VALID"][rng.integers(2)]
    if rng.random() < 0.5:
        strides, dilations = tuple(rng.integers(1, 4, size=2)), (1, 1)
    else:
        strides, dilations = (1, 1), tuple(rng.integers(1, 3, size=2))
    if padding == "VALID":  # keep the output non-empty
        rows = max(rows, (kh - 1) * dilations[0] + 1)
        cols = max(cols, (kw - 1) * dilations[1] + 1)
    density = [1.0, 0.5, 0.25, 0.1, 0.05][rng.integers(5)]
    pattern = ["random", "block"][rng.integers(2)]
    x = rng.normal(size=(batch, rows, cols, cin)).astype(dtype)
    kernel = rng.normal(size=(kh, kw, cin, cout)).astype(dtype)
    mask = patterns.connection_mask(int(cin), int(cout), density, pattern, seed=seed)
    return x, kernel, mask.astype(dtype), [int(s) for s in strides], padding, \
        [int(d) for d in dilations]


@pytest.mark.parametrize("seed", range(40))
def test_forward_equals_masked_conv2d(seed, cpu_kernel):
    x, kernel, mask, strides, padding, dilations = case(seed)
    compact, indptr, indices = compact_from_mask(kernel, mask)
    got = op(x, compact, indptr, indices, strides, padding, dilations)
    want = masked_conv(x, kernel, mask, strides, padding, dilations)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("seed", range(16))
def test_gradient_ops_equal_autodiff_of_the_reference(seed, cpu_kernel):
    """float32 gradient ops against autodiff of the reference in float64 (TF's
    float32 oneDNN conv backprop aborted on some of these shapes; float64 uses
    Eigen). TF's CPU conv2d has no dilated backprop, so dilations are 1 here."""
    x, kernel, mask, strides, padding, _ = case(100 + seed)
    dilations = [1, 1]
    grads = {}
    upstream = None
    for name, dtype in (("op", tf.float32), ("reference", tf.float64)):
        xv, kv = tf.constant(x, dtype), tf.Variable(tf.constant(kernel, dtype))
        with tf.GradientTape() as tape:
            tape.watch(xv)
            if name == "op":
                compact, indptr, indices = compact_from_mask(kv, tf.constant(mask, dtype))
                y = op(xv, compact, indptr, indices, strides, padding, dilations)
                upstream = tf.random.stateless_normal(tf.shape(y), seed=[seed, 1])
            else:
                y = masked_conv(xv, kv, tf.constant(mask, dtype), strides, padding, dilations)
            loss = tf.reduce_sum(y * tf.cast(upstream, dtype))
        grads[name] = tape.gradient(loss, [xv, kv])
    for got, want in zip(grads["op"], grads["reference"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)
    inactive = np.broadcast_to(mask[None, None] == 0, kernel.shape)
    assert np.all(grads["op"][1].numpy()[inactive] == 0)


@pytest.mark.parametrize("strides,padding,dilations,pattern", [
    ((1, 1), "SAME", (1, 1), "block"),
    ((2, 1), "VALID", (1, 1), "random"),
    ((1, 1), "SAME", (2, 1), "random"),
    ((2, 2), "SAME", (1, 1), "block"),
    ((1, 1), "VALID", (1, 2), "block"),
])
def test_gradients_match_numerical_float64(strides, padding, dilations, pattern, cpu_kernel):
    rng = np.random.default_rng(7)
    x = tf.constant(rng.normal(size=(2, 6, 5, 5)))
    kernel = rng.normal(size=(3, 2, 5, 4))
    mask = patterns.connection_mask(5, 4, 0.4, pattern, seed=3).astype("float64")
    compact, indptr, indices = compact_from_mask(kernel, mask)

    def f(x, compact):
        return op(x, compact, indptr, indices, list(strides), padding, list(dilations))

    theoretical, numerical = tf.test.compute_gradient(f, [x, compact])
    for t, n in zip(theoretical, numerical, strict=True):
        np.testing.assert_allclose(t, n, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cin,cout,k,strides,pattern,density", [
    (80, 80, 3, (1, 1), "block", 1.0),   # one group of 80 outputs: chunks of 64 + 16 lanes
    (40, 150, 1, (1, 1), "block", 0.5),  # wide 1x1 groups
    (24, 48, 3, (2, 2), "block", 0.25),  # strided
    (48, 24, 3, (1, 1), "random", 0.1),  # single-output groups, scattered destinations
])
def test_wide_groups_forward_and_gradients(cin, cout, k, strides, pattern, density, cpu_kernel):
    """Groups wider than one vector (several chunks per group), in float32, against
    the masked conv2d and its autodiff in float64."""
    rng = np.random.default_rng(cin + cout)
    x = rng.normal(size=(2, 9, 10, cin))
    kernel = rng.normal(size=(k, k, cin, cout))
    mask = patterns.connection_mask(cin, cout, density, pattern, seed=1).astype("float64")
    compact, indptr, indices = compact_from_mask(kernel, mask)
    upstream = rng.normal(size=(2, -(-9 // strides[0]), -(-10 // strides[1]), cout))
    xv, cv = tf.constant(x, tf.float32), tf.cast(compact, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch([xv, cv])
        y = op(xv, cv, indptr, indices, list(strides))
        loss = tf.reduce_sum(y * tf.constant(upstream, tf.float32))
    got = [y, *tape.gradient(loss, [xv, cv])]
    xr, kr = tf.constant(x), tf.constant(kernel)
    with tf.GradientTape() as tape:
        tape.watch([xr, kr])
        y = masked_conv(xr, kr, tf.constant(mask), list(strides), "SAME", [1, 1])
        loss = tf.reduce_sum(y * upstream)
    dx, dkernel = tape.gradient(loss, [xr, kr])
    want = [y, dx, compact_from_mask(dkernel, mask)[0]]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=2e-3)


def test_graph_mode_shape_function():
    spec = [tf.TensorSpec((None, 10, 9, 6)), tf.TensorSpec((3, 3, None)),
            tf.TensorSpec((8,), tf.int32), tf.TensorSpec((None,), tf.int32)]
    fn = tf.function(lambda *a: op(*a, strides=[2, 1], padding="VALID")).get_concrete_function(
        *spec)
    assert fn.output_shapes.as_list() == [None, 4, 7, 7]


def structure(cin=4, cout=3):
    mask = patterns.connection_mask(cin, cout, 0.5, "random", seed=0)
    kernel = np.ones((3, 3, cin, cout), "float32")
    return [t.numpy() for t in compact_from_mask(kernel, mask)]


@pytest.mark.parametrize("change,message", [
    (lambda a: {**a, "indices": a["indices"] + 10}, "out of range"),
    (lambda a: {**a, "indices": -1 - a["indices"]}, "out of range"),
    (lambda a: {**a, "indices": a["indices"][::-1].copy()}, "increasing"),
    (lambda a: {**a, "indptr": a["indptr"] + 1}, "indptr"),
    (lambda a: {**a, "indptr": a["indptr"][::-1].copy()}, "indptr"),
    (lambda a: {**a, "kernel": a["kernel"][:, :, :-1]}, "nnz"),
    (lambda a: {**a, "x": a["x"][0]}, "4-D"),
    (lambda a: {**a, "kernel": a["kernel"][0]}, "3-D"),
    (lambda a: {**a, "indptr": np.zeros((0,), "int32")}, "indptr"),
    (lambda a: {**a, "kernel": np.zeros((0, 3, a["kernel"].shape[2]), "float32")}, "kernel"),
])
def test_bad_input_is_invalid_argument(change, message):
    kernel, indptr, indices = structure()
    args = change({"x": np.ones((1, 5, 5, 4), "float32"), "kernel": kernel, "indptr": indptr,
                   "indices": indices})
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match=message):
        op(args["x"], args["kernel"], args["indptr"], args["indices"])


def test_zero_sized_batch_and_empty_rows():
    kernel, indptr, indices = structure()
    assert op(np.ones((0, 5, 5, 4), "float32"), kernel, indptr, indices).shape == (0, 5, 5, 3)
    empty = op(np.ones((1, 5, 5, 4), "float32"), np.zeros((3, 3, 0), "float32"),
               np.zeros((4,), "int32"), np.zeros((0,), "int32"))
    np.testing.assert_array_equal(empty, np.zeros((1, 5, 5, 3)))


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_property_random_shapes_and_indices(data):
    """Random shapes and (possibly invalid) structures: a correct answer or an
    InvalidArgumentError, never a crash or a wrong answer."""
    batch = data.draw(st.integers(0, 2))
    rows, cols = data.draw(st.integers(0, 7)), data.draw(st.integers(0, 7))
    cin, cout = data.draw(st.integers(0, 5)), data.draw(st.integers(0, 5))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    counts = [data.draw(st.integers(0, 3)) for _ in range(cout)]
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype("int32")
    if data.draw(st.booleans()):
        indptr = indptr + np.array(data.draw(st.lists(st.integers(-2, 2), min_size=len(indptr),
                                                      max_size=len(indptr))), "int32")
    nnz = data.draw(st.integers(0, 12))
    indices = np.array(data.draw(st.lists(st.integers(-2, 6), min_size=nnz, max_size=nnz)),
                       "int32")
    strides = [data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))]
    padding = data.draw(st.sampled_from(["SAME", "VALID"]))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, rows, cols, cin)).astype("float32")
    kernel = rng.normal(size=(kh, kw, nnz)).astype("float32")
    try:
        got = op(x, kernel, indptr, indices, strides, padding).numpy()
    except tf.errors.InvalidArgumentError:
        valid = (indptr[0] == 0 and indptr[-1] == nnz and np.all(np.diff(indptr) >= 0)
                 and all(np.all(np.diff(indices[a:b]) > 0) for a, b in itertools.pairwise(indptr))
                 and np.all((indices >= 0) & (indices < cin)))
        if padding == "VALID":
            valid = valid and rows >= kh and cols >= kw
        assert not valid or batch * rows * cols == 0
        return
    dense = np.zeros((kh, kw, cin, cout), "float32")
    for j in range(cout):
        for p in range(indptr[j], indptr[j + 1]):
            dense[:, :, indices[p], j] = kernel[:, :, p]
    if got.size == 0:
        return
    if cin == 0 or cout == 0:  # nothing connected: all zeros (conv2d rejects empty filters)
        np.testing.assert_array_equal(got, 0)
        return
    want = tf.nn.conv2d(x, dense, strides=strides, padding=padding).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_reference_is_used_when_python_ops_are_forced(monkeypatch):
    x, kernel, mask, strides, padding, dilations = case(3)
    compact, indptr, indices = compact_from_mask(kernel, mask)
    monkeypatch.setenv("TF_PE_PY_OPS", "1")
    loader.reset()
    try:
        with pytest.warns(RuntimeWarning, match="fallback"):
            from tf_pe.ops import sparse_channel_conv2d

            got = sparse_channel_conv2d(x, compact, indptr, indices, strides, padding, dilations)
        np.testing.assert_allclose(got, reference(x, compact, indptr, indices, strides, padding,
                                                  dilations), rtol=1e-6, atol=1e-6)
    finally:
        monkeypatch.delenv("TF_PE_PY_OPS")
        loader.reset()


def test_missing_library_warns_once_and_falls_back(monkeypatch, tmp_path):
    monkeypatch.setenv("TF_PE_OP_LIBRARY", str(tmp_path / "missing.so"))
    loader.reset()
    try:
        with pytest.warns(RuntimeWarning, match="could not be loaded") as record:
            assert loader.load() is None
            assert loader.load() is None
        assert len([w for w in record if "could not be loaded" in str(w.message)]) == 1
    finally:
        monkeypatch.delenv("TF_PE_OP_LIBRARY")
        loader.reset()


def test_saved_model_with_the_op_loads_after_importing_tf_pe(tmp_path):
    mask = patterns.connection_mask(4, 5, 0.5, "block", seed=0)
    kernel = np.random.default_rng(0).normal(size=(3, 3, 4, 5)).astype("float32")
    compact, indptr, indices = compact_from_mask(kernel, mask)
    module = tf.Module()
    module.f = tf.function(lambda x: op(x, compact, indptr, indices),
                           input_signature=[tf.TensorSpec((None, 6, 6, 4))])
    tf.saved_model.save(module, str(tmp_path / "sm"))
    x = np.ones((1, 6, 6, 4), "float32")
    np.save(tmp_path / "want.npy", module.f(x).numpy())
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        import tf_pe  # registers TfPe>SparseChannelConv2D
        loaded = tf.saved_model.load({str(tmp_path / "sm")!r})
        got = loaded.f(np.ones((1, 6, 6, 4), "float32")).numpy()
        np.testing.assert_allclose(got, np.load({str(tmp_path / "want.npy")!r}), rtol=1e-6)
        print("OK")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, timeout=120)
    assert "OK" in result.stdout, result.stderr[-2000:]


@pytest.mark.parametrize("pattern", ["random", "block"])
def test_compact_structure_is_compact_from_mask_in_numpy(pattern):
    mask = patterns.connection_mask(13, 9, 0.3, pattern, seed=4)
    mask[:, 2] = 0  # an output without connections
    kernel = RNG_OP.normal(size=(2, 3, 13, 9)).astype("float32")
    compact, indptr, indices = compact_from_mask(kernel, mask)
    s = compact_structure(mask)
    np.testing.assert_array_equal(s.indptr, indptr)
    np.testing.assert_array_equal(s.indices, indices)
    # Hand count: connection (i, o) is entry i * 9 + o of a tap.
    o = np.repeat(np.arange(9), np.diff(s.indptr))
    np.testing.assert_array_equal(s.positions, s.indices * 9 + o)
    np.testing.assert_array_equal(kernel.reshape(6, -1)[:, s.positions].reshape(2, 3, -1),
                                  compact)


def test_compact_conv2d_equals_masked_conv_values_and_gradients():
    x, kernel, mask, strides, padding, dilations = case(7)
    x, kernel = tf.constant(x), tf.Variable(kernel)
    s = compact_structure(mask)
    results = []
    for fn in (lambda: compact_conv2d(x, kernel, s, strides, padding, dilations),
               lambda: masked_conv(x, kernel, mask, strides, padding, dilations)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn()
        results.append((y, *tape.gradient(y, [x, kernel])))
    for got, want in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_compact_structure_and_conv2d_refuse_bad_arguments():
    with pytest.raises(ValueError, match="`mask`"):
        compact_structure(np.ones((2, 2, 2)))
    s = compact_structure(np.ones((4, 3)))
    with pytest.raises(ValueError, match="`kernel`"):
        compact_conv2d(tf.zeros((1, 3, 3, 4)), tf.zeros((3, 3, 4, 4)), s)
    with pytest.raises(TypeError, match="`structure`"):
        compact_conv2d(tf.zeros((1, 3, 3, 4)), tf.zeros((3, 3, 4, 3)), np.ones((4, 3)))


def test_structures_that_alternate_in_one_kernel_instance_each_give_their_result():
    # The op keeps the last structure's plan: same shapes, other connections must
    # not reuse it (eager calls with the same attributes can share one cached
    # kernel), and a bad structure after a good one is still refused.
    x = tf.constant(RNG_OP.normal(size=(2, 6, 6, 8)).astype("float32"))
    kernel = RNG_OP.normal(size=(3, 3, 8, 8)).astype("float32")
    masks = [patterns.connection_mask(8, 8, 0.5, pattern, seed=s)
             for s, pattern in [(0, "random"), (1, "random"), (0, "block")]]
    for mask in masks + masks[::-1] + masks:
        compact, indptr, indices = compact_from_mask(kernel, mask)
        want = masked_conv(x, kernel, mask, [1, 1], "SAME", [1, 1])
        np.testing.assert_allclose(op(x, compact, indptr, indices), want, rtol=1e-4, atol=1e-4)
        swapped = indices.numpy()
        swapped[[0, 1]] = swapped[[1, 0]]  # output 0 has 4 inputs: now decreasing
        with pytest.raises(tf.errors.InvalidArgumentError, match="strictly increasing"):
            op(x, compact, indptr, swapped)

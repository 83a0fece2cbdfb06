"""gather_channels / scatter_add_channels, on the compiled ops and on the pure-TF
fallback: against a NumPy reference, their gradients, bad input, static shapes and
the use of the op where the library is loaded."""

import numpy as np
import pytest
import tensorflow as tf

from tf_pe.ops import channel_gather, gather_channels, loader, scatter_add_channels

DTYPES = ["float32", "float64", "float16", "bfloat16"]


@pytest.fixture(autouse=True, params=["op", "fallback"])
def implementation(request, monkeypatch):
    """Runs every test on the compiled ops and on the pure-TF fallback."""
    if request.param == "op":
        monkeypatch.delenv("TF_PE_PY_OPS", raising=False)
        loader.reset()
        module = loader.load()
        if module is None or not hasattr(module, "tf_pe_gather_channels"):
            pytest.fail("the op library is not built: run `python -m tf_pe.ops.build`")
    else:
        monkeypatch.setenv("TF_PE_PY_OPS", "1")
        loader.reset()
    yield request.param
    loader.reset()


# ---------------------------------------------------------------- references


def np_gather(x, index):
    """Written independently of tf_pe: fancy indexing with an appended zero channel."""
    padded = np.concatenate([x, np.zeros((*x.shape[:-1], 1), x.dtype)], axis=-1)
    return padded[..., np.where(index < 0, x.shape[-1], index)]


def np_scatter(u, index, depth):
    out = np.zeros((*u.shape[:-1], depth), u.dtype)
    for m, d in enumerate(index):
        if d >= 0:
            out[..., d] += u[..., m]
    return out


def random_index(rng, depth, length, kind):
    """`length` values in [-1, depth): random (repeats, -1), runs, or a permutation."""
    if depth == 0:
        return np.full(length, -1, np.int32)
    if kind == "permutation":
        return rng.permutation(depth).astype(np.int32)
    if kind == "runs":  # consecutive blocks (the memcpy path), some of them -1
        parts, total = [np.zeros(0, np.int64)], 0
        while total < length:
            size = int(rng.integers(1, 40))
            start = int(rng.integers(-1, depth))
            block = np.full(size, -1) if start < 0 else np.arange(start, start + size) % depth
            parts.append(block)
            total += size
        return np.concatenate(parts)[:length].astype(np.int32)
    index = rng.integers(-1, depth, size=length).astype(np.int32)
    if length and rng.random() < 0.5:
        index[rng.integers(length)] = -1
    return index


def case(seed):
    """Random leading shape (rank 1 to 4 in all, zero sizes included), D, index."""
    rng = np.random.default_rng(seed)
    rank = int(rng.integers(1, 5))
    lead = [int(rng.integers(0 if rng.random() < 0.15 else 1, 6)) for _ in range(rank - 1)]
    depth = int(rng.choice([0, 1, 3, 16, 17, 31, 33, 64, 65, 100, 256]))
    kind = str(rng.choice(["random", "runs", "permutation"]))
    length = depth if kind == "permutation" else int(rng.choice([0, 1, 5, 16, 40, 64, 130]))
    index = random_index(rng, depth, length, kind)
    # Quarter steps in [-8, 8]: exact in every dtype, sums of a few of them too.
    values = (rng.integers(-32, 33, size=[*lead, depth]) / 4).astype(np.float32)
    return values, index


def as_dtype(values, dtype):
    return tf.cast(tf.constant(values), dtype)


def to_numpy(tensor):
    return tf.cast(tensor, tf.float64).numpy()


def check_sums(got, updates, index, depth, dtype, implementation):
    """`got` against np_scatter of quarter-step `updates` (exact in float32/64)."""
    want = np_scatter(updates.astype(np.float64), index, depth)
    if dtype in ("float32", "float64"):
        np.testing.assert_array_equal(to_numpy(got), want)
        return
    # Sums of many duplicates round in half precision: the op adds in float and
    # rounds once; the fallback may add in the dtype (error <= terms * eps * sum |u|).
    if implementation == "op":
        np.testing.assert_array_equal(to_numpy(got), to_numpy(as_dtype(want, dtype)))
    eps = {"float16": 2.0**-10, "bfloat16": 2.0**-7}[dtype]
    scale = np_scatter(np.abs(updates).astype(np.float64), index, depth)
    assert (np.abs(to_numpy(got) - want) <= max(len(index), 1) * eps * scale).all()


# ---------------------------------------------------------------- values


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(30))
def test_gather_equals_numpy(seed, dtype):
    values, index = case(seed)
    got = gather_channels(as_dtype(values, dtype), index)
    assert got.dtype == dtype
    want = np_gather(values.astype(np.float64), index)
    assert got.shape == want.shape
    np.testing.assert_array_equal(to_numpy(got), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(30))
def test_scatter_add_equals_numpy(seed, dtype, implementation):
    values, index = case(1000 + seed)
    depth = values.shape[-1]
    updates = np_gather(values, index)  # [..., M]
    got = scatter_add_channels(as_dtype(updates, dtype), index, depth)
    assert got.dtype == dtype
    want = np_scatter(updates.astype(np.float64), index, depth)
    assert got.shape == want.shape
    check_sums(got, updates, index, depth, dtype, implementation)


@pytest.mark.parametrize(("shape", "index"), [
    ((7,), [6, 0, 0, -1, 3]),                      # rank 1
    ((2, 3, 64), np.arange(64)[::-1]),              # a full-width permutation
    ((3, 70), [69, -1, 0, 69] * 20),                # D > 64, repeats
    ((2, 5), []),                                   # M = 0
    ((0, 4, 5), [1, 2]),                            # zero rows
    ((2, 0), [-1, -1, -1]),                         # D = 0: only -1
    ((2, 9), np.arange(9)),                         # the identity (one run)
    ((3, 40), np.tile(np.arange(40), 130)),         # M = 5200 > one chunk of 2048
    ((2, 3000), np.random.default_rng(3).integers(-1, 3000, 4500)),  # D and M > a chunk
])
@pytest.mark.parametrize("dtype", DTYPES)
def test_edge_shapes(shape, index, dtype, implementation):
    index = np.asarray(index, np.int32)
    values = (np.random.default_rng(0).integers(-32, 33, size=shape) / 4).astype(np.float32)
    got = gather_channels(as_dtype(values, dtype), index)
    np.testing.assert_array_equal(to_numpy(got), np_gather(values.astype(np.float64), index))
    updates = np_gather(values, index)
    got = scatter_add_channels(as_dtype(updates, dtype), index, shape[-1])
    check_sums(got, updates, index, shape[-1], dtype, implementation)


def test_float64_random_values_and_int64_index():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 4, 21))
    index = np.array([20, 3, 3, -1, 0, 7, 20], np.int64)
    np.testing.assert_array_equal(gather_channels(x, tf.constant(index)), np_gather(x, index))
    u = rng.normal(size=(3, 4, 7))
    np.testing.assert_allclose(scatter_add_channels(u, index, tf.constant(21, tf.int64)),
                               np_scatter(u, index, 21), rtol=1e-12, atol=1e-12)


def test_nan_and_inf_are_copied_not_mixed_with_the_zero_channel():
    x = tf.constant([[np.nan, np.inf, -np.inf, 1.0]])
    got = gather_channels(x, [2, -1, 0, 1, -1]).numpy()
    np.testing.assert_array_equal(got, [[-np.inf, 0.0, np.nan, np.inf, 0.0]])


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("seed", range(6))
def test_gather_gradient_float64(seed):
    rng = np.random.default_rng(seed)
    shape = [int(s) for s in rng.integers(1, 4, size=int(rng.integers(0, 3)))]
    depth = int(rng.choice([1, 5, 20, 70]))
    index = random_index(rng, depth, int(rng.integers(1, 12)), "random")
    x = tf.constant(rng.normal(size=[*shape, depth]))
    theoretical, numerical = tf.test.compute_gradient(lambda p: gather_channels(p, index), [x])
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-7)


@pytest.mark.parametrize("seed", range(6))
def test_scatter_add_gradient_float64(seed):
    rng = np.random.default_rng(100 + seed)
    shape = [int(s) for s in rng.integers(1, 4, size=int(rng.integers(0, 3)))]
    depth = int(rng.choice([1, 5, 20, 70]))
    index = random_index(rng, depth, int(rng.integers(1, 12)), "random")
    u = tf.constant(rng.normal(size=[*shape, len(index)]))
    theoretical, numerical = tf.test.compute_gradient(
        lambda v: scatter_add_channels(v, index, depth), [u])
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-7)


def test_gradients_are_each_other_and_none_for_index():
    rng = np.random.default_rng(5)
    x = tf.constant(rng.normal(size=(2, 3, 6)))
    index = tf.constant([5, 5, -1, 0])
    dy = tf.constant(rng.normal(size=(2, 3, 4)))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, index])
        y = gather_channels(x, index)
        z = scatter_add_channels(dy, index, 6)
    np.testing.assert_allclose(tape.gradient(y, x, output_gradients=dy),
                               np_scatter(dy.numpy(), index.numpy(), 6), rtol=1e-12)
    assert tape.gradient(y, index) is None
    assert tape.gradient(z, index) is None


def test_second_order_gradient():
    x = tf.constant(np.random.default_rng(2).normal(size=(3, 5)))
    index = [4, 0, 0, -1]
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(gather_channels(x, index) ** 2)
        g = inner.gradient(y, x)  # 2 * scatter(gather(x))
        s = tf.reduce_sum(g * x)
    np.testing.assert_allclose(outer.gradient(s, x), 2 * g.numpy(), rtol=1e-12)


# ---------------------------------------------------------------- bad input


def test_out_of_range_index_raises_invalid_argument():
    x = tf.zeros([2, 4])
    for bad in ([4], [0, -2], [1, 2, 100]):
        with pytest.raises(tf.errors.InvalidArgumentError):
            gather_channels(x, bad)
        with pytest.raises(tf.errors.InvalidArgumentError):
            scatter_add_channels(tf.zeros([2, len(bad)]), bad, 4)


def test_negative_depth_tensor_raises_invalid_argument():
    with pytest.raises(tf.errors.InvalidArgumentError, match="depth"):
        scatter_add_channels(tf.zeros([2, 1]), [-1], tf.constant(-1))


def test_errors_known_only_when_the_graph_runs_raise_invalid_argument():
    """Unknown shapes: the op's kernel (resp. the fallback's checks) must catch them."""
    any_float = tf.TensorSpec(None, tf.float32)
    any_int = tf.TensorSpec(None, tf.int32)
    gather = tf.function(gather_channels, input_signature=[any_float, any_int])
    scatter = tf.function(scatter_add_channels, input_signature=[any_float, any_int, any_int])
    np.testing.assert_array_equal(gather(tf.ones([2, 3]), tf.constant([2, -1])),
                                  [[1, 0], [1, 0]])
    bad = {
        "params rank 0": lambda: gather(tf.constant(1.0), tf.constant([0])),
        "index rank 2": lambda: gather(tf.ones([2, 3]), tf.constant([[0]])),
        "index out of range": lambda: gather(tf.ones([2, 3]), tf.constant([3])),
        "updates rank 0": lambda: scatter(tf.constant(1.0), tf.constant([0]), tf.constant(2)),
        "scatter index rank 2": lambda: scatter(tf.ones([2, 1]), tf.constant([[0]]),
                                                tf.constant(2)),
        "lengths differ": lambda: scatter(tf.ones([2, 3]), tf.constant([0, 1]), tf.constant(2)),
        "negative depth": lambda: scatter(tf.ones([2, 1]), tf.constant([-1]), tf.constant(-3)),
        "depth not scalar": lambda: scatter(tf.ones([2, 1]), tf.constant([0]),
                                            tf.constant([2])),
        "scatter index out of range": lambda: scatter(tf.ones([2, 1]), tf.constant([2]),
                                                      tf.constant(2)),
    }
    for name, call in bad.items():
        with pytest.raises(tf.errors.InvalidArgumentError):
            call()
            pytest.fail(name)


def test_static_errors_raise_value_error_naming_the_argument():
    with pytest.raises(ValueError, match="`index`"):
        gather_channels(tf.zeros([2, 3]), [[0]])
    with pytest.raises(ValueError, match="`params`"):
        gather_channels(tf.constant(1.0), [0])
    with pytest.raises(ValueError, match="`updates`"):
        scatter_add_channels(tf.zeros([2, 3]), [0, 1], 4)
    with pytest.raises(ValueError, match="`depth`"):
        scatter_add_channels(tf.zeros([2, 1]), [0], -1)
    with pytest.raises(ValueError, match="`depth`"):
        scatter_add_channels(tf.zeros([2, 1]), [0], tf.constant([2]))
    with pytest.raises(TypeError, match="`params`"):
        gather_channels(tf.zeros([2, 3], tf.int32), [0])
    with pytest.raises(TypeError, match="`index`"):
        gather_channels(tf.zeros([2, 3]), [0.0])
    with pytest.raises(TypeError, match="`depth`"):
        scatter_add_channels(tf.zeros([2, 1]), [0], 2.0)


# ---------------------------------------------------------------- graphs


def test_static_shapes():
    gather = tf.function(gather_channels).get_concrete_function(
        tf.TensorSpec([None, 5, 8]), tf.TensorSpec([3], tf.int32))
    assert gather.output_shapes.as_list() == [None, 5, 3]
    scatter = tf.function(lambda u, i: scatter_add_channels(u, i, 8)).get_concrete_function(
        tf.TensorSpec([None, 5, 3]), tf.TensorSpec([3], tf.int32))
    assert scatter.output_shapes.as_list() == [None, 5, 8]
    dynamic = tf.function(scatter_add_channels).get_concrete_function(
        tf.TensorSpec([None, 5, 3]), tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32))
    assert dynamic.output_shapes.as_list() == [None, 5, None]


def test_the_compiled_op_is_used_when_the_library_is_loaded(implementation):
    def loss(x, index):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(gather_channels(x, index) ** 2)
        return tape.gradient(y, x)

    fn = tf.function(loss).get_concrete_function(tf.TensorSpec([2, 4, 6]),
                                                 tf.TensorSpec([5], tf.int32))
    types = {op.type for op in fn.graph.get_operations()}
    assert ("TfPe>GatherChannels" in types) == (implementation == "op")
    assert ("TfPe>ScatterAddChannels" in types) == (implementation == "op")
    assert fn.output_shapes.as_list() == [2, 4, 6]
    x = tf.constant(np.random.default_rng(1).normal(size=(2, 4, 6)), tf.float32)
    index = tf.constant([5, 0, 0, -1, 2])
    want = np_scatter(2 * np_gather(x.numpy(), index.numpy()), index.numpy(), 6)
    np.testing.assert_allclose(fn(x, index), want, rtol=1e-6)


def test_a_library_without_the_ops_falls_back_with_one_warning(monkeypatch):
    monkeypatch.setattr(loader, "load", lambda: object())
    monkeypatch.setattr(channel_gather, "_state", {})
    with pytest.warns(RuntimeWarning, match="GatherChannels"):
        got = gather_channels(tf.constant([[1.0, 2.0]]), [1, -1])
    np.testing.assert_array_equal(got, [[2.0, 0.0]])
    assert channel_gather._state["warned_stale"]

"""`tf_pe.ops.grouped`: the grouped structure of a mask (hand-made masks), and the
grouped convolution and the hybrid (op forward, grouped gradients) against a masked
`tf.nn.conv2d`, values and gradients, on the compiled ops and on their pure-TF
fallbacks."""

import numpy as np
import pytest
import tensorflow as tf

from tf_pe.ops import (
    compact_structure,
    grouped,
    grouped_conv2d,
    grouped_structure,
    hybrid_conv2d,
    loader,
)
from tf_pe.sparsity import patterns

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True, params=["op", "fallback"])
def implementation(request, monkeypatch):
    if request.param == "op":
        monkeypatch.delenv("TF_PE_PY_OPS", raising=False)
    else:
        monkeypatch.setenv("TF_PE_PY_OPS", "1")
    loader.reset()
    if request.param == "op" and loader.load() is None:
        pytest.fail("the op library is not built: run `make setup`")
    yield request.param
    loader.reset()


def masked_conv(x, kernel, mask, **kwargs):
    return tf.nn.conv2d(x, kernel * mask[None, None], **kwargs)


def grouped_fn(x, kernel, mask, **kwargs):
    return grouped_conv2d(x, kernel, grouped_structure(mask), **kwargs)


def hybrid_fn(x, kernel, mask, **kwargs):
    return hybrid_conv2d(x, kernel, grouped_structure(mask), compact_structure(mask), **kwargs)


def test_structure_of_a_hand_made_mask():
    # in 4, out 5: outputs 0, 1, 4 see inputs {1, 3}; outputs 2, 3 see {0, 2}.
    mask = np.zeros((4, 5), "float32")
    mask[np.ix_([1, 3], [0, 1, 4])] = 1
    mask[np.ix_([0, 2], [2, 3])] = 1
    s = grouped_structure(mask)
    assert (s.groups, s.group_inputs, s.group_outputs) == (2, 2, 3)
    np.testing.assert_array_equal(s.input_index, [1, 3, 0, 2])
    np.testing.assert_array_equal(s.output_index, [0, 1, 3, 4, 2])
    # W_g[j, t * 3 + r] = W[in_t[j], out_t[r]], flat i * 5 + o; -1 pads group 1.
    np.testing.assert_array_equal(s.kernel_index.reshape(2, 6), [
        [1 * 5 + 0, 1 * 5 + 1, 1 * 5 + 4, 0 * 5 + 2, 0 * 5 + 3, -1],
        [3 * 5 + 0, 3 * 5 + 1, 3 * 5 + 4, 2 * 5 + 2, 2 * 5 + 3, -1]])
    assert s.computed_fraction == pytest.approx(12 / 10)


def test_dense_mask_is_one_group_with_identity_gathers():
    s = grouped_structure(np.ones((3, 4)))
    assert (s.groups, s.group_inputs, s.group_outputs) == (1, 3, 4)
    assert s.input_index is None and s.output_index is None


@pytest.mark.parametrize("mask", [
    np.array([[1, 1], [0, 1]]),  # outputs see 1 and 2 inputs
    np.array([[1, 0], [1, 0]]),  # output 1 sees nothing
])
def test_masks_without_the_structure(mask):
    assert grouped_structure(mask) is None


def test_block_masks_have_the_structure():
    for cin, cout, density in [(64, 64, 0.1), (30, 7, 0.3), (7, 30, 0.5), (128, 64, 0.05)]:
        mask = patterns.block_mask(cin, cout, density, seed=1)
        s = grouped_structure(mask)
        assert s is not None and s.group_inputs * s.groups >= cin


def test_structure_rejects_a_mask_that_is_not_2d():
    with pytest.raises(ValueError, match="`mask`"):
        grouped_structure(np.ones((2, 2, 2)))


@pytest.mark.parametrize("case", [
    {"cin": 12, "cout": 10, "density": 0.25, "k": 3},
    {"cin": 16, "cout": 16, "density": 0.5, "k": 1, "strides": 2},
    {"cin": 9, "cout": 6, "density": 0.3, "k": 3, "padding": "VALID", "dilations": 2},
    {"cin": 8, "cout": 24, "density": 0.125, "k": 3, "strides": (1, 2)},
    {"cin": 5, "cout": 5, "density": 1.0, "k": 2},
    {"cin": 40, "cout": 40, "density": 0.1, "k": 3},
])
@pytest.mark.parametrize("function", [grouped_fn, hybrid_fn], ids=["grouped", "hybrid"])
def test_equals_masked_conv(case, function):
    dtype = "float32"
    kwargs = {"strides": case.get("strides", 1), "padding": case.get("padding", "SAME"),
              "dilations": case.get("dilations", 1)}
    mask = patterns.block_mask(case["cin"], case["cout"], case["density"], seed=3).astype(dtype)
    x = tf.constant(RNG.normal(size=(2, 11, 9, case["cin"])).astype(dtype))
    kernel = tf.Variable(RNG.normal(size=(case["k"], case["k"], case["cin"], case["cout"]))
                         .astype(dtype))
    dy = tf.constant(RNG.normal(size=masked_conv(x, kernel, mask, **kwargs).shape).astype(dtype))
    grads = []
    for fn in (lambda: function(x, kernel, mask, **kwargs),
               lambda: masked_conv(x, kernel, mask, **kwargs)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn()
        grads.append((y, *tape.gradient(y, [x, kernel], output_gradients=dy)))
    tol = 1e-4
    for got, want in zip(grads[0], grads[1], strict=True):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    inactive = np.broadcast_to(mask == 0, kernel.shape)
    assert np.all(grads[0][2].numpy()[inactive] == 0)


@pytest.mark.parametrize("function", [grouped_fn, hybrid_fn], ids=["grouped", "hybrid"])
def test_numerical_gradient(function):
    # float32: TensorFlow has no grouped-convolution gradient for float64 on the CPU.
    mask = patterns.block_mask(6, 4, 0.5, seed=0)
    x = tf.constant(RNG.normal(size=(1, 4, 4, 6)).astype("float32"))
    kernel = tf.constant(RNG.normal(size=(2, 2, 6, 4)).astype("float32"))
    theoretical, numerical = tf.test.compute_gradient(
        lambda a, w: function(a, w, mask, strides=(1, 2)), [x, kernel], delta=1e-2)
    for t, n in zip(theoretical, numerical, strict=True):
        np.testing.assert_allclose(t, n, rtol=1e-2, atol=1e-2)


def test_supported_only_where_tensorflow_differentiates_it():
    assert grouped.supported("float32")  # oneDNN is on by default on x86-64 Linux
    assert not grouped.supported("float64")
    assert not grouped.supported(tf.float16)


def test_kernel_of_another_shape_is_refused():
    s = grouped_structure(patterns.block_mask(4, 4, 0.5, seed=0))
    with pytest.raises(ValueError, match="`kernel`"):
        grouped_conv2d(tf.zeros((1, 3, 3, 4)), tf.zeros((3, 3, 4, 5)), s)


def test_hybrid_refuses_structures_of_other_masks_and_types():
    mask = patterns.block_mask(4, 4, 0.5, seed=0)
    other = patterns.block_mask(4, 4, 0.5, seed=1)
    x, kernel = tf.zeros((1, 3, 3, 4)), tf.zeros((3, 3, 4, 4))
    with pytest.raises(ValueError, match="`compact`"):
        hybrid_conv2d(x, kernel, grouped_structure(mask), compact_structure(other))
    with pytest.raises(TypeError, match="`compact`"):
        hybrid_conv2d(x, kernel, grouped_structure(mask), grouped_structure(mask))
    with pytest.raises(TypeError, match="`structure`"):
        hybrid_conv2d(x, kernel, compact_structure(mask), compact_structure(mask))
    with pytest.raises(ValueError, match="`kernel`"):
        hybrid_conv2d(x, tf.zeros((3, 3, 4, 5)), grouped_structure(mask),
                      compact_structure(mask))

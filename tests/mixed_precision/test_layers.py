"""Every tf_pe layer under `mixed_float16` and `mixed_bfloat16`: outputs in the
compute dtype agree with the same layer in float32, variables (masks included)
stay float32, gradients are float32 and exactly zero on inactive entries, and
SparseChannelConv2D falls back from the float32/float64 custom op to the masked
convolution, and its grouped path runs in bfloat16 (not float16)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.mixed_precision.conftest import POLICIES
from tf_pe.layers import (
    MaskedConv2D,
    MaskedDense,
    MaskedDepthwiseConv2D,
    PredictedConv2D,
    PredictedDense,
    SparseChannelConv2D,
)
from tf_pe.ops import dispatch, loader

IMAGE, VECTOR = (2, 6, 6, 4), (3, 10)
LAYERS = {
    "SparseChannelConv2D": (lambda: SparseChannelConv2D(6, 3, density=0.5, seed=0,
                                                        padding="same"), IMAGE),
    "MaskedConv2D": (lambda: MaskedConv2D(6, 3, density=0.4, seed=0, padding="same"), IMAGE),
    "MaskedDepthwiseConv2D": (lambda: MaskedDepthwiseConv2D(3, density=0.5, seed=0), IMAGE),
    "MaskedDense": (lambda: MaskedDense(6, density=0.4, seed=0), VECTOR),
    "PredictedConv2D": (lambda: PredictedConv2D(6, 3, seed=0, padding="same"), IMAGE),
    "PredictedDense": (lambda: PredictedDense(6, seed=0), VECTOR),
}


def build(name):
    make, shape = LAYERS[name]
    layer = make()
    layer.build(shape)
    return layer, np.random.default_rng(1).normal(size=shape).astype("float32")


@pytest.mark.parametrize("name", list(LAYERS))
def test_forward_matches_float32_and_variables_stay_float32(policy, name):
    compute, rtol = POLICIES[policy]
    layer, x = build(name)
    assert layer.compute_dtype == compute and layer.variable_dtype == "float32"
    y = layer(x)
    assert y.dtype == compute
    for weight in layer.weights:
        assert weight.dtype in ("float32", "int64"), weight.name
    if hasattr(layer, "mask"):
        assert set(np.unique(layer.mask.numpy())) <= {0.0, 1.0}
    keras.mixed_precision.set_global_policy("float32")
    reference, _ = build(name)
    reference.set_weights(layer.get_weights())
    expected = reference(x).numpy()
    scale = np.abs(expected).max()
    np.testing.assert_allclose(np.asarray(y, np.float32), expected, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("name", list(LAYERS))
def test_gradients_are_float32_and_zero_on_inactive_entries(policy, name):
    layer, x = build(name)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(tf.cast(layer(x), tf.float32)))
    grads = tape.gradient(loss, layer.trainable_variables)
    for variable, grad in zip(layer.trainable_variables, grads, strict=True):
        assert grad is not None and grad.dtype == tf.float32, variable.name
        assert np.isfinite(grad.numpy()).all()
    if hasattr(layer, "mask"):
        kernel_grad = grads[[v.name for v in layer.trainable_variables].index("kernel")].numpy()
        inactive = np.broadcast_to(layer.mask.numpy() == 0, kernel_grad.shape)
        assert inactive.any() and (kernel_grad[inactive] == 0).all()
        assert np.abs(kernel_grad[~inactive]).max() > 0


def op_types(layer, shape):
    """The op types of a traced call, inside `tf.cond` branches too."""
    graph = tf.function(layer).get_concrete_function(
        tf.TensorSpec(shape, tf.float32)).graph.as_graph_def()
    return {n.op for n in graph.node} | {n.op for f in graph.library.function
                                         for n in f.node_def}


@pytest.mark.skipif(loader.load() is None, reason="op library not built")
def test_sparse_channel_conv_falls_back_from_the_op(policy):
    dispatch.set_mode("op")
    try:
        layer, _ = build("SparseChannelConv2D")
        assert not any("SparseChannelConv2D" in t for t in op_types(layer, IMAGE))
        keras.mixed_precision.set_global_policy("float32")
        layer, _ = build("SparseChannelConv2D")
        assert any("SparseChannelConv2D" in t for t in op_types(layer, IMAGE))
    finally:
        dispatch.set_mode(None)


@pytest.mark.skipif(loader.load() is None, reason="op library not built")
def test_block_layer_runs_grouped_in_bfloat16_only(policy):
    """The grouped path takes bfloat16 (oneDNN); float16 stays masked dense."""
    dispatch.set_mode("grouped")
    try:
        layer = SparseChannelConv2D(8, 3, density=0.5, pattern="block", seed=0, padding="same")
        layer.build(IMAGE)
        x = np.random.default_rng(2).normal(size=IMAGE).astype("float32")
        assert ("TfPe>GatherChannels" in op_types(layer, IMAGE)) == (policy == "mixed_bfloat16")
        with tf.GradientTape() as tape:
            y = layer(x)
            loss = tf.reduce_sum(tf.square(tf.cast(y, tf.float32)))
        kernel_grad = tape.gradient(loss, layer.kernel).numpy()
        assert y.dtype == POLICIES[policy][0] and kernel_grad.dtype == np.float32
        inactive = np.broadcast_to(layer.mask.numpy() == 0, kernel_grad.shape)
        assert (kernel_grad[inactive] == 0).all() and np.abs(kernel_grad[~inactive]).max() > 0
        keras.mixed_precision.set_global_policy("float32")
        reference = SparseChannelConv2D(8, 3, density=0.5, pattern="block", seed=0,
                                        padding="same")
        reference.build(IMAGE)
        reference.set_weights(layer.get_weights())
        expected = reference(x).numpy()
        rtol = POLICIES[policy][1]
        np.testing.assert_allclose(np.asarray(y, np.float32), expected, rtol=rtol,
                                   atol=rtol * np.abs(expected).max())
    finally:
        dispatch.set_mode(None)


@pytest.mark.skipif(loader.load() is None, reason="op library not built")
def test_auto_runs_wide_block_layers_grouped_under_mixed_bfloat16(policy, monkeypatch):
    """With the committed rule: 256 inputs qualify in bfloat16, float16 never does."""
    monkeypatch.setattr(dispatch, "_gpu_visible", lambda: False)
    shape = (1, 4, 4, 256)
    layer = SparseChannelConv2D(256, 3, density=0.1, pattern="block", seed=0, padding="same")
    layer.build(shape)
    grouped = dispatch.RULE["grouped_bfloat16"]["block/kxk"]["min_in_channels"] <= 256
    assert ("TfPe>GatherChannels" in op_types(layer, shape)) == (
        policy == "mixed_bfloat16" and grouped)

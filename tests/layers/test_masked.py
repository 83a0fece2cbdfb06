"""Masked layers: masks, effective kernels against masked references, training
keeps masked weights at zero, serialization, accounting, mixed precision."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_pe
from tf_pe.layers import MaskedConv2D, MaskedDense, MaskedDepthwiseConv2D
from tf_pe.layers.masked import mask_units, random_mask

RNG = np.random.default_rng(0)


def test_random_mask_exact_count_and_channel_slices():
    mask = random_mask((3, 3, 4, 5), 0.25, seed=1)
    assert mask.sum() == round(0.25 * 180)
    channel = random_mask((3, 3, 4, 5), 0.25, seed=1, granularity="channel")
    assert channel.sum() == 9 * 5  # 5 of 20 slices, each 3x3
    assert (channel.min(axis=(0, 1)) == channel.max(axis=(0, 1))).all()
    assert mask_units((3, 3, 4, 5), "channel") == (9, 20)
    assert mask_units((7, 5), "channel") == (1, 35)
    np.testing.assert_array_equal(random_mask((10, 10), 0.3, 7), random_mask((10, 10), 0.3, 7))
    assert random_mask((10, 10), 0.001, 0).sum() == 1  # never empty


def test_dense_matches_masked_matmul_and_stores_zeros():
    layer = MaskedDense(6, density=0.3, seed=0, activation="relu")
    x = RNG.normal(size=(4, 5)).astype("float32")
    y = layer(x)
    kernel, mask = layer.kernel.numpy(), layer.mask.numpy()
    assert mask.sum() == round(0.3 * 30)
    assert (kernel[mask == 0] == 0).all()
    np.testing.assert_allclose(y, np.maximum(x @ (kernel * mask) + layer.bias.numpy(), 0),
                               rtol=1e-5, atol=1e-6)


def test_conv_and_depthwise_match_masked_tf_nn_reference():
    x = RNG.normal(size=(2, 7, 7, 3)).astype("float32")
    conv = MaskedConv2D(4, 3, density=0.4, seed=2, padding="same",
                        bias_initializer="random_normal")
    y = conv(x)
    kernel = conv.kernel.numpy() * conv.mask.numpy()
    ref = tf.nn.conv2d(x, kernel, 1, "SAME") + conv.bias.numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)

    dw = MaskedDepthwiseConv2D(3, depth_multiplier=2, density=0.5, seed=3,
                               bias_initializer="random_normal")
    y = dw(x)
    kernel = dw.kernel.numpy() * dw.mask.numpy()
    ref = tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "VALID") + dw.bias.numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_masked_entries_get_zero_gradient():
    layer = MaskedDense(3, density=0.5, seed=1)
    x = tf.constant(RNG.normal(size=(4, 6)), tf.float32)
    layer(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    grad = tape.gradient(loss, layer.kernel).numpy()
    mask = layer.mask.numpy()
    assert (grad[mask == 0] == 0).all() and (grad[mask == 1] != 0).any()


@pytest.mark.parametrize("optimizer", [
    lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    lambda: keras.optimizers.Adam(0.01),
    lambda: keras.optimizers.AdamW(0.01, weight_decay=0.1),
    lambda: keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=0.1),
])
def test_masked_weights_stay_exactly_zero_through_training(optimizer):
    model = keras.Sequential([
        keras.Input((6, 6, 2)),
        MaskedConv2D(3, 3, density=0.3, seed=0, activation="relu"),
        keras.layers.Flatten(),
        MaskedDense(4, density=0.2, seed=1),
    ])
    model.compile(optimizer(), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [layer.kernel.numpy().copy() for layer in tf_pe.sparsity.find_sparse_layers(model)]
    x = RNG.normal(size=(32, 6, 6, 2)).astype("float32")
    model.fit(x, RNG.integers(0, 4, 32), batch_size=8, epochs=2, verbose=0)
    for layer, old in zip(tf_pe.sparsity.find_sparse_layers(model), before, strict=True):
        mask = layer.mask.numpy()
        kernel = layer.kernel.numpy()
        assert (kernel[mask == 0] == 0).all()
        assert not np.allclose(kernel[mask == 1], old[mask == 1])  # it did train


@pytest.mark.parametrize("cls,args", [(MaskedDense, (3,)), (MaskedConv2D, (3, 2)),
                                      (MaskedDepthwiseConv2D, (2,))])
def test_config_has_every_constructor_argument_and_round_trips(cls, args):
    layer = cls(*args, density=0.25, seed=5, granularity="channel")
    config = layer.get_config()
    own = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
    assert own == {"density", "seed", "granularity"} | set(own) and own <= set(config)
    keras_layer = next(c for c in cls.__mro__ if c.__module__.startswith("keras."))
    assert set(keras_layer(*args).get_config()) < set(config)
    assert cls.from_config(config).get_config() == config


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"density": 0.0}, "`density`"), ({"density": 1.5}, "`density`"),
    ({"seed": 1.5}, "`seed`"), ({"granularity": "row"}, "`granularity`"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MaskedDense(3, **kwargs)


def test_keras_save_load_keeps_masks_and_bookkeeping(tmp_path):
    model = keras.Sequential([keras.Input((5,)), MaskedDense(4, density=0.5, name="fc")])
    model.get_layer("fc").threshold.assign(0.125)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    for a, b in zip(model.get_layer("fc").weights, loaded.get_layer("fc").weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert float(loaded.get_layer("fc").threshold.numpy()) == 0.125


def test_summary_counts_active_params_and_effective_macs():
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        MaskedConv2D(4, 3, density=0.5, seed=0, name="conv"),
        keras.layers.Flatten(),
        MaskedDense(10, density=0.1, seed=1, name="fc"),
    ])
    stats = tf_pe.summary(model, print_fn=None)
    conv, fc = stats.by_name("conv"), stats.by_name("fc")
    assert conv.params == 3 * 3 * 4 + 4 and conv.active == 18 + 4
    assert conv.macs == 36 * 36 and conv.effective_macs == 36 * 18
    assert fc.params == 144 * 10 + 10 and fc.active == 144 + 10
    assert fc.effective_macs == 144


def test_sparsify_masked_uniform_erk_and_keep_dense():
    model = tf_pe.models.lenet5(input_shape=(16, 16, 1))
    sparse = tf_pe.sparsify(model, "masked", density=0.1, seed=3)
    layers = tf_pe.sparsity.find_sparse_layers(sparse)
    assert [layer.name for layer in layers] == ["conv1", "conv2", "fc1", "fc2", "logits"]
    for layer in layers:
        kernel, mask = layer.kernel.numpy(), layer.mask.numpy()
        assert abs(mask.mean() - 0.1) < 0.02
        assert (kernel[mask == 0] == 0).all()
        np.testing.assert_array_equal(kernel[mask == 1],
                                      model.get_layer(layer.name).kernel.numpy()[mask == 1])
    erk = tf_pe.sparsify(model, "masked", density=0.1, distribution="erk",
                         keep_first_dense=True, keep_last_dense=True)
    names = [layer.name for layer in tf_pe.sparsity.find_sparse_layers(erk)]
    assert names == ["conv2", "fc1", "fc2"]
    total = sum(int(np.prod(model.get_layer(n).kernel.shape))
                for n in ["conv1", "conv2", "fc1", "fc2", "logits"])
    active = sum(int(erk.get_layer(n).mask.numpy().sum()) for n in names)
    active += sum(int(np.prod(model.get_layer(n).kernel.shape)) for n in ["conv1", "logits"])
    assert abs(active / total - 0.1) < 0.002


def test_mixed_float16_forward_and_training():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = keras.Sequential([keras.Input((6,)), MaskedDense(8, density=0.5, seed=0),
                                  MaskedDense(3, density=0.5, seed=1, dtype="float32")])
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(RNG.normal(size=(16, 6)), RNG.integers(0, 3, 16), epochs=1, verbose=0)
        layer = model.layers[0]
        assert layer.kernel.dtype == "float32" and layer.compute_dtype == "float16"
        assert (layer.kernel.numpy()[layer.mask.numpy() == 0] == 0).all()
    finally:
        keras.mixed_precision.set_global_policy("float32")

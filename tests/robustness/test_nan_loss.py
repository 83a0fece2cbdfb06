"""A NaN loss does not corrupt masks, for every mask-updating callback: the
mask-update callbacks skip the step and keep the masks; densification follows
its schedule alone, so its masks are those of a run with finite losses."""

import keras
import numpy as np
import pytest

import tf_pe
from tf_pe.callbacks import SET, DensifyEvery, DynamicSparseReparam, GradualMagnitudePruning
from tf_pe.sparsity import find_sparse_layers

STEPS = 8


def _data(shape, nan):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4 * STEPS, *shape)).astype("float32")
    if nan:
        x[:, 0] = np.nan
    return x, rng.integers(0, 3, size=4 * STEPS)


def _masks(model):
    return [np.array(layer.mask.numpy()) for layer in find_sparse_layers(model)]


def _fit(model, callback, nan):
    x, y = _data(model.input_shape[1:], nan)
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0,
                        callbacks=[callback])
    return history.history["loss"][-1]


def _masked_model(density):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12,))
    hidden = tf_pe.layers.MaskedDense(16, density=density, seed=1, name="fc1")(inputs)
    outputs = tf_pe.layers.MaskedDense(3, density=density, seed=2, name="fc2")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.mark.parametrize(("make_callback", "density"), [
    (lambda: DynamicSparseReparam(period=2, target_prune_fraction=0.2,
                                  initial_threshold=0.1), 0.3),
    (lambda: SET(zeta=0.3, period=2), 0.3),
    (lambda: GradualMagnitudePruning(final_density=0.2, end_step=STEPS, period=2), 1.0),
])
def test_mask_updates_skip_nan_steps_and_keep_the_masks(make_callback, density):
    model = _masked_model(density)
    before = _masks(model)
    callback = make_callback()
    assert np.isnan(_fit(model, callback, nan=True))
    for got, want in zip(_masks(model), before, strict=True):
        np.testing.assert_array_equal(got, want)
    assert callback.history and all("skipped" in record for record in callback.history)
    # The same callback on finite losses does move the (same initial) masks.
    model = _masked_model(density)
    assert all(np.array_equal(a, b) for a, b in zip(_masks(model), before, strict=True))
    _fit(model, make_callback(), nan=False)
    assert any(not np.array_equal(a, b) for a, b in zip(_masks(model), before, strict=True))


def _channel_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 8))
    # The mask seed mixes in the layer name: the same name gives the same masks.
    hidden = tf_pe.layers.SparseChannelConv2D(8, 3, density=1 / 8, seed=3, name="conv")(inputs)
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(hidden))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_densification_under_nan_loss_follows_its_schedule():
    finite, nan = _channel_model(), _channel_model()
    start = _masks(finite)[0].sum()
    _fit(finite, DensifyEvery(3), nan=False)
    assert np.isnan(_fit(nan, DensifyEvery(3), nan=True))
    np.testing.assert_array_equal(_masks(nan)[0], _masks(finite)[0])
    assert _masks(nan)[0].sum() > start

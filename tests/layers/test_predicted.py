"""PredictedDense / PredictedConv2D against closed forms and plain Keras layers."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_pe
from tf_pe import prediction
from tf_pe.layers.predicted import PredictedConv2D, PredictedDense, split_units

RNG = np.random.default_rng(0)


def _x(*shape):
    return RNG.normal(size=shape).astype("float32")


def test_full_fraction_and_zero_ridge_reproduce_dense_exactly():
    layer = PredictedDense(7, learned_fraction=1.0, dictionary=prediction.SE(ridge=0.0),
                           seed=0, order="predict")
    x = _x(5, 12)
    layer(x)
    np.testing.assert_allclose(layer.dictionary_matrix.numpy()[0],
                               np.eye(12)[:, layer.alpha.numpy()[0]], atol=1e-5)
    full = _x(12, 7)
    bias = _x(7)
    layer.coefficients.assign(full[layer.alpha.numpy()[0]])
    layer.bias.assign(bias)
    np.testing.assert_allclose(layer(x), x @ full + bias, atol=1e-4)
    np.testing.assert_allclose(layer.effective_kernel(), full, atol=1e-5)


def test_full_fraction_and_zero_ridge_reproduce_conv2d_exactly():
    layer = PredictedConv2D(4, 3, learned_fraction=1.0, dictionary=prediction.SE(ridge=0.0),
                            seed=0, padding="same", order="predict")
    x = _x(2, 6, 6, 3)
    layer(x)
    full = _x(3, 3, 3, 4)
    alpha = layer.alpha.numpy()[0]
    layer.coefficients.assign(full.reshape(9, 3, 4)[alpha])
    np.testing.assert_allclose(layer.effective_kernel(), full, atol=1e-5)
    expected = tf.nn.conv2d(x, full, strides=1, padding="SAME") + layer.bias.numpy()
    np.testing.assert_allclose(layer(x), expected, atol=1e-4)


@pytest.mark.parametrize("dictionary", ["se", "randfixu", "lowrank"])
def test_both_orders_give_equal_dense_outputs(dictionary):
    x = _x(6, 30)
    a = PredictedDense(11, 0.3, dictionary, columns=3, order="predict", seed=4,
                       activation="relu")
    b = PredictedDense(11, 0.3, dictionary, columns=3, order="pool", seed=4,
                       activation="relu")
    a(x), b(x)
    b.set_weights(a.get_weights())
    np.testing.assert_allclose(a(x), b(x), atol=1e-5)
    ref = np.maximum(x @ a.effective_kernel().numpy() + a.bias.numpy(), 0)
    np.testing.assert_allclose(a(x), ref, atol=1e-5)


@pytest.mark.parametrize("strides,padding,dilation", [(1, "same", 1), (2, "valid", 1),
                                                       (1, "valid", 2)])
def test_both_orders_give_equal_conv_outputs(strides, padding, dilation):
    x = _x(2, 9, 9, 5)
    kw = dict(learned_fraction=0.4, columns=2, seed=1, strides=strides, padding=padding,
              dilation_rate=dilation)
    a = PredictedConv2D(7, 3, order="predict", **kw)
    b = PredictedConv2D(7, 3, order="pool", **kw)
    a(x), b(x)
    b.set_weights(a.get_weights())
    np.testing.assert_allclose(a(x), b(x), atol=1e-5)
    ref = tf.nn.conv2d(x, a.effective_kernel(), strides, padding.upper(),
                       dilations=dilation) + a.bias.numpy()
    np.testing.assert_allclose(a(x), ref, atol=1e-5)
    assert a.compute_output_shape(x.shape) == tuple(a(x).shape)


def test_column_split_shapes_and_counts():
    assert split_units(10, 3) == [(0, 4), (4, 7), (7, 10)]
    layer = PredictedDense(10, 0.25, "se", columns=3, seed=0)
    inp = keras.Input((40,))
    model = keras.Model(inp, layer(inp))
    assert layer.n_alpha == 10  # round(0.25 * 40)
    assert tuple(layer.dictionary_matrix.shape) == (3, 40, 10)
    assert tuple(layer.coefficients.shape) == (10, 10)
    assert tuple(layer.alpha.shape) == (3, 10)
    assert len({tuple(a) for a in layer.alpha.numpy()}) == 3  # own alpha per column
    stats = tf_pe.summary(model, print_fn=None).by_name(layer.name)
    assert stats.dynamic == 10 * 10 + 10  # W_alpha + bias
    assert stats.static == 3 * 40 * 10  # U, one per column
    assert stats.params == stats.dynamic + stats.static
    # a column of U maps to its own output units only
    w = layer.effective_kernel().numpy()
    u = layer.dictionary_matrix.numpy()
    c = layer.coefficients.numpy()
    np.testing.assert_allclose(w[:, 4:7], u[1] @ c[:, 4:7], atol=1e-6)


def test_conv_counts_and_macs_by_hand():
    layer = PredictedConv2D(16, 3, 0.34, "se", seed=0, padding="same", order="auto")
    inp = keras.Input((8, 8, 4))
    model = keras.Model(inp, layer(inp))
    assert layer.n_alpha == 3  # round(0.34 * 9)
    stats = tf_pe.summary(model, print_fn=None).by_name(layer.name)
    assert stats.dynamic == 3 * 4 * 16 + 16
    assert stats.static == 9 * 3
    dense = 64 * 9 * 4 * 16
    pooled = 64 * (9 * 4 * 3 + 3 * 4 * 16)
    assert (stats.macs, stats.effective_macs) == (dense, pooled)  # pooling is cheaper


def test_dense_auto_order_picks_fewer_macs():
    small = PredictedDense(500, 0.1, "se", columns=1, seed=0)
    small(_x(1, 784))
    n_a = round(0.1 * 784)
    assert small.count_macs((None, 784), (None, 500)) == (784 * 500, 784 * n_a + n_a * 500)
    many = PredictedDense(500, 0.5, "se", columns=10, seed=0)
    many(_x(1, 784))
    assert many.count_macs((None, 784), (None, 500)) == (784 * 500, 784 * 500)


def test_lowrank_learns_both_factors_at_the_budget():
    layer = PredictedDense(100, 0.2, "lowrank", seed=0, use_bias=False)
    layer(_x(1, 200))
    assert layer.dictionary_matrix.trainable and layer.coefficients.trainable
    learned = np.prod(layer.dictionary_matrix.shape) + np.prod(layer.coefficients.shape)
    # n_alpha = round(0.2 * 200 * 100 / (200 + 100)) = 13: 13 * (200 + 100) entries
    assert layer.n_alpha == 13 and learned == 3900
    assert abs(learned - 0.2 * 200 * 100) <= (200 + 100) / 2  # the closest integer rank


def test_only_coefficients_and_bias_get_gradients():
    layer = PredictedDense(5, 0.5, "se", seed=0)
    x = _x(3, 8)
    layer(x)
    assert [w.name for w in layer.trainable_weights] == ["coefficients", "bias"]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    grads = tape.gradient(loss, layer.trainable_weights)
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`learned_fraction`"):
        PredictedDense(10, 0.0)
    with pytest.raises(ValueError, match="`learned_fraction`"):
        PredictedConv2D(10, 3, 1.5)
    with pytest.raises(ValueError, match="`columns`=11 must not exceed"):
        PredictedDense(10, 0.5, columns=11)
    with pytest.raises(ValueError, match="`dictionary` must be one of"):
        PredictedDense(10, 0.5, "wavelet")
    with pytest.raises(ValueError, match="`order`"):
        PredictedDense(10, 0.5, order="fast")
    with pytest.raises(ValueError, match="`grid`"):
        PredictedDense(10, 0.5, prediction.SE(grid=(3, 3)))(_x(1, 10))


def test_emp_used_before_fit_raises_and_fitting_fixes_it():
    inp = keras.Input((6,))
    h = PredictedDense(4, 0.5, "emp", seed=0, name="p")(inp)
    model = keras.Model(inp, h)
    x = _x(64, 6) @ _x(6, 6)
    with pytest.raises(ValueError, match="`dictionary` 'emp' of layer 'p' was never fitted"):
        model.predict(x, verbose=0)
    assert prediction.fit_predicted_layers(model, x) == ["p"]
    layer = model.get_layer("p")
    cov = np.cov(x.T, bias=True)
    a = layer.alpha.numpy()[0]
    lam = 1e-2 * np.trace(cov) / 6
    hand = cov[:, a] @ np.linalg.inv(cov[np.ix_(a, a)] + lam * np.eye(3))
    np.testing.assert_allclose(layer.dictionary_matrix.numpy()[0], hand, rtol=1e-3, atol=1e-5)
    assert model.predict(x, verbose=0).shape == (64, 4)


def test_conv_emp_fits_on_patches():
    inp = keras.Input((8, 8, 2))
    layer = PredictedConv2D(3, 3, 0.5, "emp2", seed=0)
    model = keras.Model(inp, layer(inp))
    prediction.fit_predicted_layers(model, _x(10, 8, 8, 2))
    assert layer.dictionary.covariance.shape == (9, 9)
    assert np.all(np.isfinite(layer.dictionary_matrix.numpy()))


@pytest.mark.parametrize("cls,args", [(PredictedDense, (6,)), (PredictedConv2D, (6, 3))])
def test_config_has_every_constructor_argument_and_round_trips(cls, args):
    layer = cls(*args, learned_fraction=0.5, dictionary=prediction.SE(length_scale=2.0),
                columns=2, seed=3, activation="relu")
    config = layer.get_config()
    params = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
    assert params <= set(config)
    again = cls.from_config(config)
    assert again.get_config() == config
    assert again.dictionary.length_scale == 2.0


def test_save_load_keeps_u_alpha_and_outputs(tmp_path):
    inp = keras.Input((6, 6, 1))
    h = PredictedConv2D(4, 3, 0.5, "randfixu", seed=2, name="conv1", activation="relu")(inp)
    h = keras.layers.Flatten()(h)
    h = PredictedDense(8, 0.5, "emp", columns=2, seed=5, name="fc1")(h)
    model = keras.Model(inp, keras.layers.Dense(3, name="logits")(h))
    x = _x(20, 6, 6, 1)
    prediction.fit_predicted_layers(model, x)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    for name in ("conv1", "fc1"):
        a, b = model.get_layer(name), loaded.get_layer(name)
        np.testing.assert_array_equal(a.dictionary_matrix.numpy(), b.dictionary_matrix.numpy())
        np.testing.assert_array_equal(a.alpha.numpy(), b.alpha.numpy())
    np.testing.assert_allclose(model(x), loaded(x), atol=1e-6)

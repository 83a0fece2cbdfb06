"""remove_units: exact removal of dependent units, shapes for every topology, errors."""

import keras
import numpy as np
import pytest

from tf_pe import compression


def _make_dependent(model, layer, target=2, a=0, b=1):
    """Unit `target` := unit `a` + unit `b` (kernel and bias), before any nonlinearity."""
    k, bias = model.get_layer(layer).get_weights()
    k[..., target] = k[..., a] + k[..., b]
    bias[target] = bias[a] + bias[b]
    model.get_layer(layer).set_weights([k, bias])


def dense_dense():
    inp = keras.Input((10,))
    x = keras.layers.Dense(6, name="h")(inp)  # linear: a + b stays a + b
    x = keras.layers.Dense(4, activation="relu", name="next")(x)
    return keras.Model(inp, keras.layers.Dense(3, name="out")(x))


def conv_conv_bn():
    inp = keras.Input((9, 9, 2))
    x = keras.layers.Conv2D(5, 3, name="h")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.Conv2D(4, 3, padding="valid", name="next")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inp, keras.layers.Dense(3, name="out")(x))


def conv_pool_flatten_dense():
    inp = keras.Input((10, 10, 1))
    x = keras.layers.Conv2D(5, 3, activation="relu", name="h")(inp)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(7, activation="relu", name="next")(x)
    return keras.Model(inp, keras.layers.Dense(3, name="out")(x))


def _x(shape, n=64, seed=0):
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype("float32")


def test_dependent_dense_unit_removed_exactly():
    keras.utils.set_random_seed(0)
    model = dense_dense()
    _make_dependent(model, "h")
    x = _x((10,), 256)
    before = [w.copy() for w in model.get_weights()]
    small = compression.remove_units(model, "h", [2], data=x)
    assert small.get_layer("h").units == 5
    assert small.get_layer("next").kernel.shape == (5, 4)
    np.testing.assert_allclose(small(x), model(x), atol=1e-5)
    # the input model is untouched
    for w0, w1 in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(w0, w1)


def test_no_adjust_differs_on_dependent_unit():
    keras.utils.set_random_seed(0)
    model = dense_dense()
    _make_dependent(model, "h")
    x = _x((10,), 256)
    with_adj = compression.remove_units(model, "h", [2], data=x)
    no_adj = compression.remove_units(model, "h", [2], adjust=False)
    assert no_adj.count_params() == with_adj.count_params()
    err_adj = np.abs(np.asarray(with_adj(x)) - model(x)).max()
    err_no = np.abs(np.asarray(no_adj(x)) - model(x)).max()
    assert err_adj < 1e-5 < 0.01 < err_no
    # noAdj keeps the other rows of the next kernel as they were
    k = model.get_layer("next").kernel.numpy()
    np.testing.assert_array_equal(no_adj.get_layer("next").kernel.numpy(), k[[0, 1, 3, 4, 5]])


def test_dependent_filter_conv_conv_exact():
    # Conv2D -> BN -> Conv2D without activation: an exactly dependent filter.
    inp = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, name="h")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2D(3, 3, name="next")(x)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(x))
    keras.utils.set_random_seed(2)
    model.build((None, 8, 8, 2))
    bn = model.get_layer("bn")
    rng = np.random.default_rng(0)
    bn.set_weights([rng.uniform(0.5, 2, 4), rng.normal(size=4), rng.normal(size=4),
                    rng.uniform(0.5, 2, 4)])
    _make_dependent(model, "h", target=3)
    x = _x((8, 8, 2), 32)
    # after BN, unit 3 is an affine function of the pre-BN unit 3 = a + b, which
    # is affine in BN(a), BN(b): still exactly predictable with the intercept.
    red = compression.redundancy(model, "h", x)
    assert red.relative_error[3] < 1e-8
    small = compression.remove_units(model, "h", [3], redundancy_info=red)
    assert small.get_layer("h").filters == 3
    assert small.get_layer("bn").moving_mean.shape == (3,)
    np.testing.assert_allclose(small(x), model(x), atol=1e-5)


def test_dependent_filter_pool_flatten_dense_exact():
    # MaxPool of a + b is not a + b of pools; use AveragePooling (linear) here.
    inp = keras.Input((10, 10, 1))
    x = keras.layers.Conv2D(5, 3, name="h")(inp)
    x = keras.layers.AveragePooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    model = keras.Model(inp, keras.layers.Dense(4, name="next")(x))
    keras.utils.set_random_seed(3)
    _make_dependent(model, "h", target=4, a=1, b=3)
    x = _x((10, 10, 1), 64)
    small = compression.remove_units(model, "h", [4], data=x)
    assert small.get_layer("next").kernel.shape == (4 * 4 * 4, 4)
    np.testing.assert_allclose(small(x), model(x), atol=1e-5)


@pytest.mark.parametrize("builder,shape,layer,units,checks", [
    (dense_dense, (10,), "h", [0, 5], {"h": ("units", 4), "next": ("kernel", (4, 4))}),
    (dense_dense, (10,), "next", [1], {"next": ("units", 3), "out": ("kernel", (3, 3))}),
    (conv_conv_bn, (9, 9, 2), "h", [1, 2, 3],
     {"h": ("filters", 2), "bn": ("gamma", (2,)), "next": ("kernel", (3, 3, 2, 4))}),
    (conv_conv_bn, (9, 9, 2), "next", [0],
     {"next": ("filters", 3), "out": ("kernel", (5 * 5 * 3, 3))}),
    (conv_pool_flatten_dense, (10, 10, 1), "h", [0, 1],
     {"h": ("filters", 3), "next": ("kernel", (4 * 4 * 3, 7))}),
])
@pytest.mark.parametrize("adjust", [True, False])
def test_shapes_every_topology(builder, shape, layer, units, checks, adjust):
    keras.utils.set_random_seed(4)
    model = builder()
    x = _x(shape, 32)
    small = compression.remove_units(model, layer, units, adjust=adjust, data=x)
    for name, (attr, value) in checks.items():
        got = getattr(small.get_layer(name), attr)
        assert (tuple(got.shape) if hasattr(got, "shape") else got) == value
    assert small(x).shape == model(x).shape
    assert small.count_params() < model.count_params()


def test_saves_loads_and_converts(tmp_path):
    keras.utils.set_random_seed(5)
    model = conv_pool_flatten_dense()
    x = _x((10, 10, 1), 16)
    small = compression.remove_units(model, "h", [0], data=x)
    path = tmp_path / "small.keras"
    small.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(x), small(x), atol=1e-6)
    assert loaded.get_layer("h").filters == 4
    import tensorflow as tf

    tflite = tf.lite.TFLiteConverter.from_keras_model(loaded).convert()
    assert len(tflite) > 1000


def test_shrink_removes_dependent_units_first():
    keras.utils.set_random_seed(6)
    model = dense_dense()
    _make_dependent(model, "h")
    x = _x((10,), 256)
    small, removal = compression.shrink(model, "h", x, 1)
    assert removal.units_after == 5 and removal.removed[0] in (0, 1, 2)
    assert removal.max_relative_error < 1e-8
    np.testing.assert_allclose(small(x), model(x), atol=1e-5)


def test_bad_input():
    model = conv_conv_bn()
    x = _x((9, 9, 2), 8)
    with pytest.raises(ValueError, match="not in model"):
        compression.remove_units(model, "missing", [0], data=x)
    with pytest.raises(ValueError, match="BatchNormalization; only plain"):
        compression.remove_units(model, "bn", [0], data=x)
    with pytest.raises(ValueError, match="model output"):
        compression.remove_units(model, "out", [0], data=x)
    with pytest.raises(ValueError, match="`units`"):
        compression.remove_units(model, "h", [5], data=x)
    with pytest.raises(ValueError, match="all 5 units"):
        compression.remove_units(model, "h", [0, 1, 2, 3, 4], data=x)
    with pytest.raises(ValueError, match="`data`"):
        compression.remove_units(model, "h", [0])
    # a residual branch: h feeds two layers
    inp = keras.Input((6,))
    h = keras.layers.Dense(4, name="h")(inp)
    out = keras.layers.Add()([keras.layers.Dense(4, name="a")(h), h])
    with pytest.raises(ValueError, match="feeds 2 layers"):
        compression.remove_units(keras.Model(inp, out), "h", [0], adjust=False)
    # an unsupported layer in between
    inp = keras.Input((6,))
    h = keras.layers.Dense(4, name="h")(inp)
    h = keras.layers.LayerNormalization(name="ln")(h)
    bad = keras.Model(inp, keras.layers.Dense(2)(h))
    with pytest.raises(ValueError, match="'ln', a LayerNormalization"):
        compression.remove_units(bad, "h", [0], adjust=False)

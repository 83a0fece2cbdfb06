"""`tf_pe.export.strip`: plain Keras layers, the kernels they compute with, same outputs."""

import keras
import numpy as np
import pytest

import tf_pe
from tests.export.conftest import TF_PE_TYPES
from tf_pe import compression, layers
from tf_pe.export import strip

# float32 logits of ~1e1 through a handful of layers: a reordered sum differs by ~1e-6.
ATOL = 1e-5


def _reference_kernel(layer) -> np.ndarray:
    """The kernel each tf_pe layer computes with, from its variables, in NumPy."""
    if isinstance(layer, layers.PredictedDense):
        u, c = np.asarray(layer.dictionary_matrix), np.asarray(layer.coefficients)
        return np.concatenate([u[j] @ c[:, a:b] for j, (a, b) in enumerate(layer.bounds)], 1)
    if isinstance(layer, layers.PredictedConv2D):
        u, c = np.asarray(layer.dictionary_matrix), np.asarray(layer.coefficients)
        kh, kw = layer.kernel_size
        parts = [np.tensordot(u[j], c[:, :, a:b], axes=(1, 0))
                 for j, (a, b) in enumerate(layer.bounds)]
        return np.concatenate(parts, -1).reshape(kh, kw, layer.in_channels, layer.filters)
    kernel, mask = np.asarray(layer.kernel), np.asarray(layer.mask)
    return kernel * mask  # [in, out] channel masks broadcast over [kh, kw, in, out]


@pytest.mark.parametrize("name", list(TF_PE_TYPES))
def test_strip_keeps_outputs_names_and_kernels(trained, fashion, name):
    model = trained[name]
    originals = {layer.name: layer for layer in model.layers}
    assert {type(x).__name__ for x in model.layers} >= TF_PE_TYPES[name]
    plain = strip(model)
    _, x, _ = fashion
    np.testing.assert_allclose(plain.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=ATOL, rtol=0)
    assert [x.name for x in plain.layers][1:] == [x.name for x in model.layers][1:]
    for layer in plain.layers:
        assert type(layer).__module__.startswith("keras."), layer
        old = originals[layer.name]
        if type(old).__name__ in TF_PE_TYPES[name]:
            np.testing.assert_allclose(np.asarray(layer.kernel), _reference_kernel(old),
                                       atol=1e-6)
            np.testing.assert_array_equal(np.asarray(layer.bias), np.asarray(old.bias))
            assert layer.get_config()["activation"] == old.get_config()["activation"]
    assert plain.count_params() <= model.count_params()


def test_strip_keeps_conv_arguments():
    conv = layers.SparseChannelConv2D(4, (3, 5), density=0.5, strides=(2, 1), padding="same",
                                 dilation_rate=1, activation="tanh", use_bias=False,
                                 name="sc", seed=3)
    model = keras.Sequential([keras.Input((9, 9, 2)), conv], name="seq")
    plain = strip(model)
    assert isinstance(plain, keras.Sequential) and plain.name == "seq"
    new = plain.get_layer("sc")
    assert type(new) is keras.layers.Conv2D
    for key in ("kernel_size", "strides", "padding", "activation", "use_bias", "filters"):
        assert new.get_config()[key] == conv.get_config()[key], key
    x = np.random.default_rng(0).normal(size=(3, 9, 9, 2)).astype("float32")
    np.testing.assert_allclose(plain(x), model(x), atol=ATOL)


def test_strip_handles_nested_models():
    inner = keras.Sequential([keras.Input((6,)), layers.MaskedDense(5, density=0.5, seed=0,
                                                                 name="inner_dense")],
                             name="inner")
    inputs = keras.Input((6,))
    model = keras.Model(inputs, layers.PredictedDense(3, seed=1, name="head")(inner(inputs)))
    plain = strip(model)
    assert type(plain.get_layer("inner").get_layer("inner_dense")) is keras.layers.Dense
    x = np.random.default_rng(1).normal(size=(4, 6)).astype("float32")
    np.testing.assert_allclose(plain(x), model(x), atol=ATOL)


def test_strip_does_not_change_the_model(trained):
    model = trained["lre"]
    before = [np.asarray(w).copy() for w in model.weights]
    shrinkable = compression.shrinkable_layers(model)
    plain = strip(model)
    for old, new in zip(before, model.weights, strict=True):
        np.testing.assert_array_equal(old, np.asarray(new))
    # no layer is shared, so graph tools (LRE) still see the model as it was
    assert not {id(x) for x in plain.layers} & {id(x) for x in model.layers}
    assert compression.shrinkable_layers(model) == shrinkable


class _Wrapper(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = layers.MaskedDense(3, name="hidden")

    def call(self, x):
        return self.inner(x)


class _Unknown(keras.layers.Dense):
    pass


_Unknown.__module__ = "tf_pe.layers.future"


def _functional(layer, shape=(4,)):
    inputs = keras.Input(shape)
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize("make, message", [
    (lambda: _functional(_Wrapper(name="wrap")), r"'wrap'.*tf_pe layer 'hidden'"),
    (lambda: _functional(_Unknown(2, name="odd")), r"'odd'.*no plain Keras counterpart"),
    (lambda: _functional(layers.PredictedDense(2, dictionary="emp", name="unfit")),
     r"'unfit'.*never fitted"),
    (lambda: keras.Sequential([layers.MaskedDense(2)]), r"`model`.*must be built"),
    (lambda: _Wrapper(), r"`model` must be a functional or Sequential"),
])
def test_strip_refuses_what_it_cannot_convert(make, message):
    with pytest.raises(ValueError, match=message):
        strip(make())


def test_strip_is_in_the_package_namespace():
    assert tf_pe.export.strip is strip

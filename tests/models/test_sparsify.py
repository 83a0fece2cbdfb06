import importlib

import keras
import numpy as np
import pytest

from tests.sparsity.fakes import FakeMaskedDense
from tf_pe._registry import Registry
from tf_pe.models.sparsify import Converter, register_converter, sparsify
from tf_pe.sparsity import find_sparse_layers

# `tf_pe.models.sparsify` is also the function's name, so fetch the module itself.
sparsify_module = importlib.import_module("tf_pe.models.sparsify")


def _convert(layer, density, seed, **kwargs):
    config = layer.get_config()
    return FakeMaskedDense(config.pop("units"), **config, **kwargs)


@pytest.fixture(autouse=True)
def fake_method(monkeypatch):
    monkeypatch.setattr(sparsify_module, "_CONVERTERS", Registry("method"))
    calls = []

    def convert(layer, density, seed, **kwargs):
        calls.append((layer.name, density, seed, kwargs))
        return _convert(layer, density, seed, **kwargs)

    register_converter(Converter(
        "fake", lambda layer: type(layer) is keras.layers.Dense, convert))
    return calls


def functional_model():
    inner = keras.Sequential([keras.Input((6,)), keras.layers.Dense(6, name="inner_fc")],
                             name="inner")
    x = keras.Input((4,))
    y = keras.layers.Dense(6, activation="relu", name="fc1")(x)
    y = inner(y)
    y = keras.layers.Dense(3, name="logits")(y)
    return keras.Model(x, y)


def test_converts_nested_layers_keeps_weights_and_outputs(fake_method):
    model = functional_model()
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    sparse = sparsify(model, "fake", density=0.5, seed=10)
    assert [layer.name for layer in find_sparse_layers(sparse)] == ["fc1", "inner_fc", "logits"]
    assert [(name, seed) for name, _, seed, _ in fake_method] == [
        ("fc1", 10), ("inner_fc", 11), ("logits", 12)]
    np.testing.assert_allclose(sparse(x), model(x), rtol=1e-6)  # fake masks start at ones
    assert not find_sparse_layers(model)  # the input model is untouched
    np.testing.assert_array_equal(sparse.get_layer("fc1").kernel, model.get_layer("fc1").kernel)


@pytest.mark.parametrize("exclude", [["logits"], lambda layer: layer.name == "logits"])
def test_exclude_by_name_or_predicate(exclude):
    sparse = sparsify(functional_model(), "fake", exclude=exclude)
    assert [layer.name for layer in find_sparse_layers(sparse)] == ["fc1", "inner_fc"]


def test_sequential_and_converter_kwargs(fake_method):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="fc")])
    sparsify(model, "fake", density=0.25, mask_value=np.ones((3, 2)))
    assert fake_method[0][1] == 0.25 and "mask_value" in fake_method[0][3]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "nope"}, "`method` must be one of fake"),
        ({"method": "fake", "density": 0.0}, "`density`"),
        ({"method": "fake", "density": 1.2}, "`density`"),
        ({"method": "fake", "exclude": "logits"}, "`exclude`"),
        ({"method": "fake", "exclude": ["missing"]}, "`exclude` names layers not in"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sparsify(functional_model(), **kwargs)


def test_subclassed_model_is_refused():
    class Net(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="`model` must be a built Sequential or functional"):
        sparsify(Net(), "fake")


def test_register_twice_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        register_converter(Converter("fake", bool, _convert))

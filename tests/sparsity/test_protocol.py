import keras
import pytest

from tests.sparsity.fakes import FakeMaskedDense
from tf_pe.sparsity import SparseLayer, find_sparse_layers, is_sparse_layer, leaf_layers


class Block(keras.layers.Layer):
    """A custom layer holding a sparse sublayer and a weight of its own."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = FakeMaskedDense(4, name="block_sparse")
        self.plain = keras.layers.Dense(4, name="block_plain")

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(), initializer="ones")

    def call(self, x):
        return self.plain(self.inner(x)) * self.scale


def nested_model():
    inner = keras.Sequential(
        [keras.Input((6,)), FakeMaskedDense(6, name="seq_sparse"), keras.layers.Dense(6)],
        name="inner_seq",
    )
    x = keras.Input((5,))
    shared = FakeMaskedDense(5, name="shared_sparse")
    y = shared(shared(x))
    y = keras.layers.Dense(6, name="plain")(y)
    y = inner(y)
    y = Block(name="block")(y)
    return keras.Model(x, y, name="outer")


def test_find_sparse_layers_walks_nested_models_and_custom_layers():
    names = [layer.name for layer in find_sparse_layers(nested_model())]
    assert names == ["shared_sparse", "seq_sparse", "block_sparse"]


def test_protocol_is_structural():
    layer = FakeMaskedDense(3)
    assert isinstance(layer, SparseLayer)
    assert is_sparse_layer(layer)
    assert not is_sparse_layer(keras.layers.Dense(3))
    assert not is_sparse_layer(object())


def test_leaf_layers_include_composites_with_own_weights_once():
    names = [layer.name for layer in leaf_layers(nested_model())]
    assert names == ["shared_sparse", "plain", "seq_sparse", names[3], "block",
                     "block_sparse", "block_plain"]
    assert names[3].startswith("dense")


def test_rejects_non_layers():
    with pytest.raises(TypeError, match="model"):
        find_sparse_layers("not a model")

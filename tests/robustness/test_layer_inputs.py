"""Layers on inputs of the wrong rank or channel count fail at build time (the
symbolic call) with a ValueError that says what was expected, for every public
layer of `tf_pe.layers`."""

import inspect

import keras
import pytest

from tf_pe import layers

# name -> (factory, input shape it is built for, wrong-rank shapes). Dense layers
# take any rank >= 2 (they act on the last axis), so they have no wrong rank.
CASES = {
    "MaskedDense": (lambda: layers.MaskedDense(3, density=0.5), (4,), []),
    "PredictedDense": (lambda: layers.PredictedDense(4), (16,), []),
    "MaskedConv2D": (lambda: layers.MaskedConv2D(3, 3), (8, 8, 2), [(8, 8), (8, 8, 2, 2)]),
    "MaskedDepthwiseConv2D": (lambda: layers.MaskedDepthwiseConv2D(3), (8, 8, 2),
                              [(8, 8), (8, 8, 2, 2)]),
    "SparseChannelConv2D": (lambda: layers.SparseChannelConv2D(4, 3, density=0.5), (8, 8, 2),
                            [(8, 8), (8, 8, 2, 2)]),
    "PredictedConv2D": (lambda: layers.PredictedConv2D(4, 3), (8, 8, 2),
                        [(8, 8), (8, 8, 2, 2)]),
}


def test_every_public_layer_is_listed():
    public = {name for name in layers.__all__
              if inspect.isclass(getattr(layers, name))
              and issubclass(getattr(layers, name), keras.layers.Layer)}
    assert public == set(CASES)


@pytest.mark.parametrize(("name", "shape"),
                         [(n, s) for n, (_, _, wrong) in CASES.items() for s in wrong])
def test_wrong_rank_is_refused_at_build_time(name, shape):
    make, _, _ = CASES[name]
    with pytest.raises(ValueError, match=r"ndim|same length|rank"):
        make()(keras.Input(shape))


@pytest.mark.parametrize("name", sorted(CASES))
def test_other_channel_count_is_refused_by_a_built_layer(name):
    make, shape, _ = CASES[name]
    layer = make()
    layer(keras.Input(shape))
    other = (*shape[:-1], shape[-1] + 1)
    with pytest.raises(ValueError, match=f"expected axis -1 of input shape to have value "
                                         f"{shape[-1]}"):
        layer(keras.Input(other))


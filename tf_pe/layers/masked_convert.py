"""`tf_pe.sparsify(model, method="masked")`: Dense, Conv2D and DepthwiseConv2D
become `MaskedDense`, `MaskedConv2D` and `MaskedDepthwiseConv2D`.

Extra `sparsify` arguments for this method:

* `distribution`: `"uniform"` (default) or `"erk"`, see
  `tf_pe.sparsity.distributions.layer_densities`;
* `keep_first_dense`, `keep_last_dense`: leave the first / last convertible
  layer a plain dense Keras layer (its parameters still count in the global
  density, which the other layers make up for). Default False;
* `granularity`: `"weight"` (default) or `"channel"`.
"""

from __future__ import annotations

import keras

from tf_pe.layers.masked import MaskedConv2D, MaskedDense, MaskedDepthwiseConv2D
from tf_pe.models.sparsify import Converter, register_converter
from tf_pe.sparsity.distributions import layer_densities

_MASKED = {
    keras.layers.Dense: MaskedDense,
    keras.layers.Conv2D: MaskedConv2D,
    keras.layers.DepthwiseConv2D: MaskedDepthwiseConv2D,
}


def _accepts(layer) -> bool:
    return type(layer) in _MASKED


def _plan(layers, density, kwargs) -> list[float | None]:
    distribution = kwargs.pop("distribution", "uniform")
    dense = set()
    if kwargs.pop("keep_first_dense", False) and layers:
        dense.add(0)
    if kwargs.pop("keep_last_dense", False) and layers:
        dense.add(len(layers) - 1)
    densities = layer_densities([tuple(layer.kernel.shape) for layer in layers], density,
                                distribution, dense)
    return [None if i in dense else d for i, d in enumerate(densities)]


def _convert(layer, density, seed, granularity="weight"):
    config = layer.get_config()
    return _MASKED[type(layer)].from_config(
        {**config, "density": density, "seed": seed, "granularity": granularity})


def _finalize(layer) -> None:
    layer.apply_mask()


register_converter(Converter("masked", _accepts, _convert, plan=_plan, finalize=_finalize))

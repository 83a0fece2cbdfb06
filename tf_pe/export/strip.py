"""`strip`: a plain Keras model with the same outputs and no tf_pe layers.

Every tf_pe layer becomes its Keras counterpart with the same name, activation,
strides, padding, ... and the kernel it computes with:

| tf_pe layer | Keras layer | kernel |
|---|---|---|
| `SparseChannelConv2D` | `Conv2D` | `W * M` (zeros where the connection mask is 0) |
| `MaskedDense`, `MaskedConv2D` | `Dense`, `Conv2D` | `W * M` |
| `MaskedDepthwiseConv2D` | `DepthwiseConv2D` | `W * M` |
| `PredictedDense`, `PredictedConv2D` | `Dense`, `Conv2D` | `U W_alpha` (Denil et al. 2013) |

A channel-sparse layer stays one `Conv2D` whose kernel has zero slices; the
"gathered channels" form (a split into small convolutions) was not built, see
docs/benchmarks.md "Export (issue 8)". Masks, seeds and schedule state are not
parameters of the computation and are dropped. Other layers are copied (or shared
with the original model when their config does not round-trip).
`register_stripper` adds a rule for a new layer type.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

# Keras 3 exports no public name for functional models (as in tf_pe.models.sparsify).
from keras.src.models.functional import Functional

from tf_pe.layers import (
    MaskedConv2D,
    MaskedDense,
    MaskedDepthwiseConv2D,
    PredictedConv2D,
    PredictedDense,
    SparseChannelConv2D,
)
from tf_pe.layers.predicted import PredictedLayer

# A stripper maps a built tf_pe layer to (an unbuilt Keras layer, its weights).
Stripper = Callable[[keras.layers.Layer], tuple[keras.layers.Layer, list[np.ndarray]]]

_STRIPPERS: dict[type, Stripper] = {}
_BASE_KEYS = ("name", "trainable", "dtype")


def register_stripper(layer_class: type, stripper: Stripper) -> None:
    """Tells `strip` how to turn layers of exactly `layer_class` into Keras layers.

    Args:
        layer_class: the tf_pe layer class.
        stripper: `stripper(layer) -> (keras_layer, weights)`: an unbuilt plain
            Keras layer and the list of arrays for its `set_weights`.

    Raises:
        TypeError: naming `layer_class` or `stripper` when it is not a class or
            not callable.
        ValueError: if `layer_class` already has a rule.
    """
    if not isinstance(layer_class, type):
        raise TypeError(f"`layer_class` must be a class, got {layer_class!r}.")
    if not callable(stripper):
        raise TypeError(f"`stripper` must be callable, got {stripper!r}.")
    if layer_class in _STRIPPERS:
        raise ValueError(f"`layer_class` {layer_class.__name__} already has a stripper.")
    _STRIPPERS[layer_class] = stripper


def _numpy(value) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value))


def _with_bias(layer, kernel) -> list[np.ndarray]:
    weights = [_numpy(kernel)]
    if layer.bias is not None:
        weights.append(_numpy(layer.bias))
    return weights


def _masked_kernel(layer):
    return layer.kernel * keras.ops.cast(layer.mask, layer.kernel.dtype)


def _keras_twin(keras_class: type, extra_keys: tuple[str, ...]) -> Stripper:
    """For a tf_pe subclass of a Keras layer: the parent's config, kernel `W * M`."""

    def strip_layer(layer):
        config = {k: v for k, v in layer.get_config().items() if k not in extra_keys}
        return keras_class.from_config(config), _with_bias(layer, _masked_kernel(layer))

    return strip_layer


def _check_fitted(layer: PredictedLayer) -> None:
    if not int(_numpy(layer.ready)):
        raise ValueError(
            f"Cannot export layer {layer.name!r} ({type(layer).__name__}): its dictionary "
            f"{layer.dictionary.name!r} was never fitted, so it has no kernel; call "
            "`tf_pe.prediction.fit_predicted_layers(model, x)` first.")


def _predicted_common(layer, config) -> dict:
    return {**{k: config[k] for k in _BASE_KEYS if k in config},
            **{k: config[k] for k in ("activation", "use_bias", "kernel_initializer",
                                      "bias_initializer")}}


def _strip_predicted_dense(layer):
    _check_fitted(layer)
    config = layer.get_config()
    dense = keras.layers.Dense(layer.units, **_predicted_common(layer, config))
    return dense, _with_bias(layer, layer.effective_kernel())


def _strip_predicted_conv(layer):
    _check_fitted(layer)
    config = layer.get_config()
    conv = keras.layers.Conv2D(
        layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding,
        data_format=layer.data_format, dilation_rate=layer.dilation_rate,
        **_predicted_common(layer, config))
    return conv, _with_bias(layer, layer.effective_kernel())


_MASK_KEYS = ("density", "seed", "granularity")
register_stripper(SparseChannelConv2D,
                  _keras_twin(keras.layers.Conv2D, ("density", "pattern", "seed")))
register_stripper(MaskedDense, _keras_twin(keras.layers.Dense, _MASK_KEYS))
register_stripper(MaskedConv2D, _keras_twin(keras.layers.Conv2D, _MASK_KEYS))
register_stripper(MaskedDepthwiseConv2D, _keras_twin(keras.layers.DepthwiseConv2D, _MASK_KEYS))
register_stripper(PredictedDense, _strip_predicted_dense)
register_stripper(PredictedConv2D, _strip_predicted_conv)


def is_tf_pe_layer(layer) -> bool:
    """Whether `layer`'s class is defined in the tf_pe package."""
    return type(layer).__module__.split(".")[0] == "tf_pe"


def _is_graph_model(layer) -> bool:
    return isinstance(layer, Functional | keras.Sequential)


def _check_convertible(layer) -> None:
    """Refuses what `strip` cannot rebuild, naming the layer and the reason."""
    if _is_graph_model(layer):
        for inner in layer.layers:
            _check_convertible(inner)
        return
    if is_tf_pe_layer(layer) and type(layer) not in _STRIPPERS:
        raise ValueError(
            f"Cannot export layer {layer.name!r}: tf_pe has no plain Keras counterpart for "
            f"{type(layer).__name__} (see `tf_pe.export.register_stripper`).")
    if isinstance(layer, PredictedLayer):
        _check_fitted(layer)
    for inner in layer._flatten_layers(include_self=False, recursive=True):
        if is_tf_pe_layer(inner):
            raise ValueError(
                f"Cannot export layer {layer.name!r} ({type(layer).__name__}): it holds the "
                f"tf_pe layer {inner.name!r} inside its own code, which `strip` cannot "
                "rebuild; build the model functionally (or as a Sequential) instead.")


def _copy(layer):
    """A new layer from `layer`'s config, or `layer` itself when its config does
    not round-trip (a `Lambda` of a plain function, a custom layer without
    `get_config`): that layer is then shared with the original model."""
    try:
        return layer.__class__.from_config(layer.get_config())
    except (TypeError, ValueError, NotImplementedError):
        return layer


def strip(model: keras.Model) -> keras.Model:
    """Returns a plain Keras copy of `model`: no tf_pe layers, the same outputs.

    Args:
        model: a built functional or Sequential `keras.Model`; nested functional
            and Sequential models are stripped too.

    Returns:
        A new model (same name, same layer names) built from Keras layers only;
        `model` is not changed. Each tf_pe layer is replaced by a new layer
        holding a copy of its effective weights, every other layer by a copy
        (from its config, with its weights); a layer whose config does not
        round-trip (a `Lambda` of a plain function, a custom layer without
        `get_config`) is shared with `model` instead.

    Raises:
        ValueError: for something other than a built functional or Sequential
            model, or for a layer that cannot be converted (naming the layer
            and the reason: an unknown tf_pe layer type, a tf_pe layer inside a
            custom layer, a predicted layer whose dictionary was never fitted).
    """
    if not _is_graph_model(model):
        raise ValueError(f"`model` must be a functional or Sequential keras.Model, got "
                         f"{type(model).__name__}.")
    if not model.built:
        raise ValueError(f"`model` {model.name!r} must be built (called on data or given "
                         "an input shape) before export.")
    _check_convertible(model)
    pairs = []

    def clone(layer):
        if type(layer) in _STRIPPERS:
            new, weights = _STRIPPERS[type(layer)](layer)
        else:
            new, weights = _copy(layer), layer.get_weights()
            if new is layer:
                return layer
        pairs.append((new, weights))
        return new

    stripped = keras.models.clone_model(model, clone_function=clone, recursive=True)
    for new, weights in pairs:
        new.set_weights(weights)
    return stripped

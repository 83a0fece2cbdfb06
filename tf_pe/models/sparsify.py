"""`tf_pe.sparsify`: turn the layers of an existing Keras model into sparse ones.

Each sparsity method registers a *converter* (which layers it accepts and how it
builds the sparse replacement from a layer's config). `sparsify` clones the
model with those replacements and copies every weight the old and new layers
share by name (kernel, bias, ...), so a converted model starts from the trained
weights, masked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import keras

# Keras 3 exports no public name for functional models; clone_model tests the same class.
from keras.src.models.functional import Functional

from tf_pe._registry import Registry


@dataclasses.dataclass(frozen=True)
class Converter:
    """How one sparsity method converts layers.

    Attributes:
        method: the `method` name given to `sparsify`.
        accepts: `accepts(layer) -> bool`, whether a layer can be converted.
        convert: `convert(layer, density=..., seed=..., **kwargs) -> new layer`,
            an unbuilt layer made from `layer.get_config()`.
        plan: optional `plan(layers, density, kwargs) -> densities`, given all
            layers to convert (in order) before any is converted: returns one
            density per layer (None keeps that layer as it is) and pops the
            keyword arguments it used from the dict `kwargs`. Defaults to None
            (every layer gets `density`).
        finalize: optional `finalize(new_layer)`, called after the weights were
            copied into a converted layer. Defaults to None.
    """

    method: str
    accepts: Callable[[keras.layers.Layer], bool]
    convert: Callable[..., keras.layers.Layer]
    plan: Callable[[list, float, dict], list] | None = None
    finalize: Callable[[keras.layers.Layer], None] | None = None


_CONVERTERS: Registry[Converter] = Registry("method")


def register_converter(converter: Converter) -> Converter:
    """Registers the converter of a sparsity method.

    Raises:
        TypeError: naming `converter` when it is not a `Converter`.
        ValueError: if the method already has one.
    """
    if not isinstance(converter, Converter):
        raise TypeError(f"`converter` must be a Converter, got {type(converter).__name__}.")
    return _CONVERTERS.register(converter.method, converter)


def sparsify_methods() -> list[str]:
    """Returns the methods `sparsify` accepts."""
    return _CONVERTERS.names()


def _excluder(exclude) -> Callable[[keras.layers.Layer], bool]:
    if exclude is None:
        return lambda layer: False
    if callable(exclude):
        return exclude
    if isinstance(exclude, str) or not isinstance(exclude, Iterable):
        raise ValueError(
            "`exclude` must be None, a collection of layer names or a predicate, "
            f"got {exclude!r}.")
    names = set(exclude)
    return lambda layer: layer.name in names


def sparsify(model: keras.Model, method: str = "channel", density: float = 0.1, *,
             exclude=None, seed: int = 0, **kwargs) -> keras.Model:
    """Returns a copy of `model` whose convertible layers are sparse.

    The input model is not modified. Layers are converted in the order of
    `model.layers` (recursively through nested models), the i-th converted layer
    getting seed `seed + i`, so masks are reproducible and differ between layers.

    Args:
        model: a built Sequential or functional Keras model.
        method: a method from `sparsify_methods()`, for example `"channel"`
            (`SparseChannelConv2D`). Defaults to `"channel"`.
        density: fraction of active connections, in (0, 1]. Defaults to 0.1.
        exclude: layers to keep as they are: a collection of names or a predicate
            `layer -> bool`. Defaults to None.
        seed: the first layer's mask seed. Defaults to 0.
        **kwargs: passed to the method's converter (for example `pattern`).

    Returns:
        A new Keras model with the converted layers and the original weights.

    Raises:
        ValueError: for an unknown method, a density outside (0, 1], a bad
            `exclude`, a name in `exclude` that is not in the model, or a model
            that is not Sequential or functional.
    """
    converter = _CONVERTERS.get(method)
    if not 0 < density <= 1:
        raise ValueError(f"`density` must be in (0, 1], got {density}.")
    if not isinstance(model, keras.Sequential | Functional):
        raise ValueError(
            "`model` must be a built Sequential or functional Keras model; subclassed "
            "models cannot be cloned: build them from tf_pe layers instead.")
    if not (exclude is None or callable(exclude) or isinstance(exclude, str)):
        missing = set(exclude) - {layer.name for layer in _all_layers(model)}
        if missing:
            raise ValueError(f"`exclude` names layers not in the model: {sorted(missing)}.")
    excluded = _excluder(exclude)
    pairs: list[tuple[keras.layers.Layer, keras.layers.Layer]] = []
    planned: dict[int, float | None] = {}
    converted: set[int] = set()
    if converter.plan is not None:
        targets = [layer for layer in _all_layers(model)
                   if converter.accepts(layer) and not excluded(layer)]
        kwargs = dict(kwargs)
        planned = dict(zip(map(id, targets), converter.plan(targets, density, kwargs),
                           strict=True))

    def clone(layer):
        layer_density = planned.get(id(layer), density)
        if converter.accepts(layer) and not excluded(layer) and layer_density is not None:
            new = converter.convert(layer, density=layer_density, seed=seed + len(pairs),
                                    **kwargs)
            converted.add(id(new))
        else:
            new = layer.__class__.from_config(layer.get_config())
        pairs.append((layer, new))
        return new

    new_model = keras.models.clone_model(model, clone_function=clone, recursive=True)
    for old, new in pairs:
        _copy_weights(old, new)
        if converter.finalize is not None and id(new) in converted:
            converter.finalize(new)
    return new_model


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if isinstance(layer, keras.Model):
            layers.extend(_all_layers(layer))
    return layers


def _copy_weights(old: keras.layers.Layer, new: keras.layers.Layer) -> None:
    """Assigns each weight of `new` from the weight of `old` with the same name."""
    by_name = {w.name: w for w in old.weights}
    for weight in new.weights:
        source = by_name.get(weight.name)
        if source is not None and tuple(source.shape) == tuple(weight.shape):
            weight.assign(source)

"""The sparsity protocol: how a layer takes part in sparsity.

A layer is *sparse* when it exposes its (weight, mask) pairs through
`sparse_weights()`. The mask is a non-trainable variable whose shape broadcasts
against the weight (elementwise masks have the weight's shape; channel masks of
shape `[in, out]` broadcast over a convolution kernel's spatial dimensions), and
the effective weight is `weight * mask`. Everything else in tf_pe (accounting,
callbacks, export) reads and assigns these variables and nothing else.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import keras


@runtime_checkable
class SparseLayer(Protocol):
    """A layer whose weights are masked.

    Implementations may also define `non_parameter_weights()`, returning
    bookkeeping variables (schedule steps, seeds, thresholds) that are neither
    parameters nor masks; accounting leaves them out.
    """

    def sparse_weights(self) -> list[tuple[keras.Variable, keras.Variable]]:
        """Returns the layer's `(weight, mask)` pairs."""
        ...


def is_sparse_layer(layer: object) -> bool:
    """Returns whether `layer` is a Keras layer implementing `SparseLayer`."""
    return isinstance(layer, keras.layers.Layer) and isinstance(layer, SparseLayer)


def child_layers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Returns the direct sublayers of `layer` (the layers of a model, or the
    layers a custom layer tracks), without input layers."""
    # Keras 3 has no public accessor for the sublayers of an arbitrary layer;
    # `_flatten_layers` is what `Model.layers` itself is built on.
    children = layer._flatten_layers(include_self=False, recursive=False)
    return [c for c in children if not isinstance(c, keras.layers.InputLayer)]


def own_weights(layer: keras.layers.Layer) -> list[keras.Variable]:
    """Returns the weights of `layer` that none of its sublayers holds (all of
    them for a sparse layer, which is counted as one unit)."""
    if is_sparse_layer(layer):
        return list(layer.weights)
    held = {id(w) for child in child_layers(layer) for w in child.weights}
    return [w for w in layer.weights if id(w) not in held]


def leaf_layers(model: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Returns the layers that own weights or compute, through nested models.

    A sparse layer is a leaf even when it has sublayers; a composite layer that
    holds weights of its own appears before its sublayers. Each layer appears
    once, in depth-first order, even when it is shared.

    Args:
        model: a Keras model or layer.

    Returns:
        The list of leaf layers.

    Raises:
        TypeError: if `model` is not a Keras layer or model.
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"`model` must be a Keras model or layer, got {type(model).__name__}.")
    leaves: list[keras.layers.Layer] = []
    seen: set[int] = set()

    def visit(layer: keras.layers.Layer) -> None:
        if id(layer) in seen:
            return
        seen.add(id(layer))
        children = child_layers(layer)
        if is_sparse_layer(layer) or not children:
            leaves.append(layer)
            return
        if own_weights(layer):
            leaves.append(layer)
        for child in children:
            visit(child)

    visit(model)
    return leaves


def find_sparse_layers(model: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Returns every `SparseLayer` in `model`, through nested models and layers.

    Args:
        model: a Keras model or layer.

    Returns:
        The sparse layers, each once, in depth-first order.

    Raises:
        TypeError: if `model` is not a Keras layer or model.
    """
    return [layer for layer in leaf_layers(model) if is_sparse_layer(layer)]


def mask_of(layer: keras.layers.Layer) -> dict[int, keras.Variable]:
    """Maps `id(weight)` to its mask for a sparse layer (empty for dense ones)."""
    if not is_sparse_layer(layer):
        return {}
    return {id(weight): mask for weight, mask in layer.sparse_weights()}


def non_parameter_ids(layer: keras.layers.Layer) -> set[int]:
    """Returns the ids of a layer's variables that are not parameters: its masks
    and whatever it declares in `non_parameter_weights()`."""
    ids = {id(mask) for mask in mask_of(layer).values()}
    extra = getattr(layer, "non_parameter_weights", None)
    if callable(extra):
        ids.update(id(v) for v in extra())
    return ids

"""Physically remove units from a Keras model, with or without readjustment.

Shah et al., "LRE-AMC" (section 3.3 and Algorithm 1's `RemoveAndAdjust`):
removing the units `J` of layer `k` and keeping `H`, the input of layer `k + 1`
is approximately `Z_J = M [Z_H; 1]` (see `tf_pe.compression.lre`), so its
weight rows and bias become

    W'_H = W_H + M_H^T W_J,     b' = b + M_1^T W_J,

for every kernel position of a Conv2D consumer and every flattened position of
a Dense consumer after `Flatten`. `adjust=False` only drops the rows (the
paper's "noAdj" ablation). The result is a new, smaller functional model built
from the old one's config; the old model is never modified.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from tf_pe.compression.lre import Redundancy, _check_units, consumer_input, redundancy
from tf_pe.compression.lre import select_units as _select
from tf_pe.compression.topology import Link, find_link


def _kernel3(link: Link, kernel: np.ndarray) -> np.ndarray:
    """The consumer kernel as `(positions, units, outputs)`."""
    return kernel.reshape(-1, link.units, kernel.shape[-1])


def adjusted_consumer(link: Link, removed: np.ndarray, transform: np.ndarray | None):
    """The consumer's new `[kernel, bias?]` after removing `removed` units.

    Args:
        link: the producer/consumer chain.
        removed: sorted indices of the removed units.
        transform: `M` from `Redundancy.transformation`, or None to only drop.

    Returns:
        `(weights, update_ratio)`: the consumer's new weight list and the
        paper's safeguard ratio, mean row norm of the update over mean row norm
        of the kernel (0 without readjustment).
    """
    weights = [np.asarray(w) for w in link.consumer.get_weights()]
    kernel = weights[0]
    k3 = _kernel3(link, kernel)
    kept = np.setdiff1d(np.arange(link.units), removed)
    new = k3[:, kept, :]
    ratio = 0.0
    if transform is not None:
        w_j = k3[:, removed, :]
        delta = np.einsum("jh,pjo->pho", transform[:, :-1], w_j)
        new = new + delta
        row_norm = np.linalg.norm(np.moveaxis(k3, 1, 0).reshape(link.units, -1), axis=1)
        upd_norm = np.linalg.norm(np.moveaxis(delta, 1, 0).reshape(len(kept), -1), axis=1)
        ratio = float(upd_norm.mean() / max(row_norm.mean(), 1e-12))
        if link.consumer.use_bias:
            weights[1] = weights[1] + np.einsum("j,pjo->o", transform[:, -1], w_j)
    shape = (*kernel.shape[:-2], -1, kernel.shape[-1]) if kernel.ndim == 4 else (-1,
                                                                                  kernel.shape[-1])
    weights[0] = new.reshape(shape).astype(kernel.dtype)
    return weights, ratio


def _rebuild(model: keras.Model, link: Link, kept: np.ndarray, consumer_weights) -> keras.Model:
    config = model.get_config()
    key = "units" if isinstance(link.producer, keras.layers.Dense) else "filters"
    changed = {link.producer.name, link.consumer.name, *(x.name for x in link.between)}
    for layer_config in config["layers"]:
        name = layer_config["config"].get("name")
        if name == link.producer.name:
            layer_config["config"][key] = len(kept)
        if name in changed:
            layer_config.pop("build_config", None)
    new = model.__class__.from_config(config)
    sliced = {link.producer.name, *(x.name for x in link.batch_norms)}
    for layer in new.layers:
        old = model.get_layer(layer.name)
        weights = old.get_weights()
        if layer.name == link.consumer.name:
            weights = consumer_weights
        elif layer.name in sliced:
            weights = [w[..., kept] for w in weights]
        if weights:
            layer.set_weights(weights)
    return new


@dataclasses.dataclass(frozen=True)
class Removal:
    """What one `shrink` did.

    Attributes:
        layer: the shrunk layer's name.
        removed: indices of the removed units (in the layer before removal).
        units_before: units before.
        units_after: units after.
        update_ratio: the readjustment's mean row-norm ratio (0 for noAdj).
        max_relative_error: largest 1 - R^2 among the removed units.
    """

    layer: str
    removed: list[int]
    units_before: int
    units_after: int
    update_ratio: float
    max_relative_error: float


def remove_units(model: keras.Model, layer: str, units, adjust: bool = True, *,
                 data=None, redundancy_info: Redundancy | None = None,
                 max_batches: int | None = None) -> keras.Model:
    """Returns a new model without `units` of `layer`, readjusting the next layer.

    Algorithm 1's `RemoveAndAdjust` (Shah et al., "LRE-AMC", section 3.3) for
    the set `J = units` at once: `W'_H = W_H + M_H^T W_J`, `b' = b + M_1^T W_J`
    with `M = (I - A_JJ)^-1 [A_JH, c_J]`. Supported: Dense -> Dense,
    Conv2D -> Conv2D, Conv2D -> (pooling) -> Flatten -> Dense, with batch
    normalization, activations, dropout or pooling in between (sliced or
    passed through).

    Args:
        model: a functional Keras model; it is not modified.
        layer: name of the Dense or Conv2D layer to shrink.
        units: indices of the units (neurons or filters) to remove.
        adjust: readjust the next layer ("wAdj"); False just drops ("noAdj").
            Defaults to True.
        data: inputs to measure the redundancy on when `adjust` and no
            `redundancy_info` is given (see `redundancy`).
        redundancy_info: a `Redundancy` of `layer` computed on `model`.
        max_batches: batches of `data` to read. Defaults to None (all).

    Returns:
        A new functional `keras.Model` (uncompiled) with fewer units in `layer`.

    Raises:
        ValueError: for an unknown or unsupported layer or topology, bad
            `units`, or `adjust=True` without `data` or `redundancy_info`.
    """
    link = find_link(model, layer)
    removed = _check_units(units, link.units)
    if redundancy_info is not None and redundancy_info.A.shape[0] != link.units:
        raise ValueError(f"`redundancy_info` has {redundancy_info.A.shape[0]} units; "
                         f"layer {layer!r} has {link.units}.")
    if adjust and redundancy_info is None:
        if data is None:
            raise ValueError("`data` (or `redundancy_info`) is needed when `adjust` is True.")
        redundancy_info = redundancy(model, layer, data, max_batches=max_batches)
    transform = redundancy_info.transformation(removed) if adjust else None
    weights, _ = adjusted_consumer(link, removed, transform)
    kept = np.setdiff1d(np.arange(link.units), removed)
    return _rebuild(model, link, kept, weights)


def shrink(model: keras.Model, layer: str, data, count: int, adjust: bool = True, *,
           max_batches: int | None = None, max_error: float = 1.0,
           max_update_ratio: float = 1.0, ridge: float = 1e-8):
    """One `LREShrink` step of Algorithm 1: measure, pick, remove (and adjust).

    Picks up to `count` of the most predictable units (`select_units`), then
    applies the paper's safeguard: while the update's mean row norm exceeds
    `max_update_ratio` times the kernel's, the least predictable pick is
    dropped from the set.

    Args:
        model: a functional Keras model; it is not modified.
        layer: the Dense or Conv2D layer to shrink.
        data: inputs for the activation statistics.
        count: how many units to remove at most.
        adjust: readjust the next layer. Defaults to True.
        max_batches: batches of `data` to read. Defaults to None (all).
        max_error: largest relative error of a removed unit. Defaults to 1.0.
        max_update_ratio: the row-norm safeguard. Defaults to 1.0 (the paper's).
        ridge: relative ridge of the fit. Defaults to 1e-8.

    Returns:
        `(new_model, removal)`, or `(None, None)` when no unit can be removed.

    Raises:
        ValueError: naming `count` or `max_update_ratio` out of range, or (from
            `find_link`) a `layer` that cannot shrink.
    """
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 1:
        raise ValueError(f"`count` must be an integer >= 1, got {count!r}.")
    if not max_update_ratio > 0:
        raise ValueError(f"`max_update_ratio` must be > 0, got {max_update_ratio!r}.")
    link = find_link(model, layer)
    red = redundancy(model, layer, data, max_batches=max_batches, ridge=ridge)
    picked = list(_select(red, count, max_error=max_error))
    rank = {int(u): r for r, u in enumerate(red.order())}
    picked.sort(key=lambda u: rank[u])
    while picked:
        removed = np.array(sorted(picked))
        transform = red.transformation(removed) if adjust else None
        weights, ratio = adjusted_consumer(link, removed, transform)
        if not adjust or ratio <= max_update_ratio:
            break
        picked.pop()
    if not picked:
        return None, None
    kept = np.setdiff1d(np.arange(link.units), removed)
    new = _rebuild(model, link, kept, weights)
    rel = red.relative_error[removed]
    return new, Removal(link.producer.name, [int(u) for u in removed], link.units, len(kept),
                        ratio, float(rel.max()))


def consumer_preactivation(model: keras.Model, layer: str, x) -> np.ndarray:
    """The pre-activation `W_{k+1} Z_k + b` of the layer after `layer` on `x`
    (what the paper's Figure 1 compares before and after shrinking)."""
    link = find_link(model, layer)
    z = consumer_input(model, link)(x, training=False)
    consumer = link.consumer
    if isinstance(consumer, keras.layers.Dense):
        y = keras.ops.matmul(z, consumer.kernel)
    else:
        y = keras.ops.conv(z, consumer.kernel, strides=consumer.strides,
                           padding=consumer.padding, dilation_rate=consumer.dilation_rate)
    if consumer.use_bias:
        y = y + consumer.bias
    return np.asarray(y)

"""Connection masks as images (Changpinyo et al. 2017, Figure 1): which input
channels feed which output channels of each channel-sparse convolution."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tf_pe.viz.figure import finish, panels


def _masks(source) -> dict[str, np.ndarray]:
    if isinstance(source, Mapping):
        return {str(k): np.asarray(v) for k, v in source.items()}
    import keras

    from tf_pe.layers import SparseChannelConv2D
    from tf_pe.sparsity.protocol import leaf_layers

    if not isinstance(source, keras.layers.Layer):
        raise TypeError(f"`source` must be a Keras model or layer, or a mapping of masks, "
                        f"got {type(source).__name__}.")
    layers = [source] if isinstance(source, SparseChannelConv2D) else [
        layer for layer in leaf_layers(source) if isinstance(layer, SparseChannelConv2D)]
    return {layer.name: np.asarray(layer.mask.numpy()) for layer in layers}


def connection_masks(source, axes=None, path=None, cell_size=(3.2, 3.2)):
    """Draws each layer's `[input channel, output channel]` connection mask.

    A dark cell is a connection: output channel `o` sees input channel `i`
    through its `kh x kw` kernel slice. One panel per layer, titled with its
    name and density.

    Args:
        source: a model or layer (its `SparseChannelConv2D` layers are drawn),
            or a mapping `{name: 2-D mask [in, out]}`.
        axes: one matplotlib axis per mask. Defaults to None (a new row).
        path: where to save the figure. Defaults to None.
        cell_size: inches per panel. Defaults to `(3.2, 3.2)`.

    Returns:
        The `matplotlib.figure.Figure`.

    Raises:
        ValueError: naming `source` when it holds no (2-D) mask, or `axes`
            when it does not hold one axis per mask.
    """
    from matplotlib.ticker import MaxNLocator

    masks = _masks(source)
    if not masks:
        raise ValueError("`source` has no SparseChannelConv2D layer and is not a mapping of "
                         "masks.")
    for name, mask in masks.items():
        if mask.ndim != 2:
            raise ValueError(f"every mask of `source` must be 2-D [in, out]; {name!r} has "
                             f"shape {mask.shape}.")
    fig, axes = panels(1, len(masks), axes, cell_size)
    for ax, (name, mask) in zip(axes, masks.items(), strict=True):
        ax.imshow(mask != 0, cmap="Greys", vmin=0, vmax=1, interpolation="nearest",
                  aspect="auto")
        ax.set(title=f"{name}: {100 * np.count_nonzero(mask) / mask.size:.0f}% connected",
               xlabel="output channel", ylabel="input channel")
        for axis, size in ((ax.yaxis, mask.shape[0]), (ax.xaxis, mask.shape[1])):
            if size <= 8:
                axis.set_ticks(range(size))
            else:
                axis.set_major_locator(MaxNLocator(integer=True))
    return finish(fig, path)

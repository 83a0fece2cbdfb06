"""Learned against predicted filters (Denil et al. 2013, "Predicting Parameters
in Deep Learning", Figure 1): each feature, the entries its prediction sees,
and the feature predicted from them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tf_pe.viz.figure import finish, panels


def learned_vs_predicted(learned, predicted, kept: Sequence[int] | None = None,
                         image_shape: tuple[int, int] = (28, 28), axes=None, path=None,
                         kept_label: str = "kept", cell_size=(1.7, 1.75)):
    """Draws features as images: one row per feature, columns learned, kept
    entries (when `kept` is given; the others blank) and predicted.

    Each row shares one symmetric gray scale, `[-max|learned|, max|learned|]`.

    Args:
        learned: `[entries, features]`, one feature per column (a Dense
            kernel's columns, for example).
        predicted: the same shape: the features as predicted, `U W_alpha`.
        kept: indices of the entries the prediction was made from (alpha).
            Defaults to None (no middle column).
        image_shape: the shape each feature is drawn in; its product must be
            `entries`. Defaults to `(28, 28)`.
        axes: `features x columns` matplotlib axes, row by row. Defaults to None.
        path: where to save the figure. Defaults to None.
        kept_label: the middle column's title. Defaults to `"kept"`.
        cell_size: inches per image. Defaults to `(1.7, 1.75)`.

    Returns:
        The `matplotlib.figure.Figure`.

    Raises:
        ValueError: naming `predicted` when its shape differs from `learned`'s,
            or `image_shape` when it does not hold `entries` values.
    """
    learned = np.asarray(learned, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if learned.ndim != 2 or predicted.shape != learned.shape:
        raise ValueError(f"`predicted` must have the 2-D shape of `learned`, "
                         f"{learned.shape}; got {predicted.shape}.")
    if int(np.prod(image_shape)) != learned.shape[0]:
        raise ValueError(f"`image_shape` {tuple(image_shape)} must hold the "
                         f"{learned.shape[0]} entries of each feature.")
    columns = [("learned", learned)]
    if kept is not None:
        shown = np.full_like(learned, np.nan)
        shown[np.asarray(kept)] = learned[np.asarray(kept)]
        columns.append((kept_label, shown))
    columns.append(("predicted", predicted))
    n = learned.shape[1]
    fig, axes = panels(n, len(columns), axes, cell_size)
    for i in range(n):
        lim = float(np.abs(learned[:, i]).max()) or 1.0
        for j, (title, images) in enumerate(columns):
            ax = axes[i * len(columns) + j]
            ax.imshow(images[:, i].reshape(image_shape), cmap="gray", vmin=-lim, vmax=lim)
            ax.set_axis_off()
            if i == 0:
                ax.set_title(title)
    return finish(fig, path)

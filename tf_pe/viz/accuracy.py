"""Accuracy against cost: one line of points per method (Changpinyo et al.'s
Figures 2-3, the DSR and prediction benchmark tables as pictures)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tf_pe.viz._figure import figure_and_axes, finish, series, style

COSTS = {"params": "parameters", "macs": "multiply-adds per example"}


def accuracy_vs_cost(points: Iterable[Mapping], cost: str = "params", ax=None, path=None,
                     title: str | None = None, xlabel: str | None = None,
                     log: bool = True):
    """Plots test accuracy against parameters or MACs, one line per method.

    Each point is a mapping with `"method"` (the line it belongs to),
    `"accuracy"` (a fraction in [0, 1], drawn in percent) and the `cost` key:
    `"params"` (the active parameters of `tf_pe.summary`) or `"macs"` (its
    effective multiply-adds per example). A method's points are joined in
    increasing cost; methods keep the order of their first point.

    Args:
        points: the points, for example benchmark result rows.
        cost: `"params"` or `"macs"`. Defaults to `"params"`.
        ax: a matplotlib axis to draw into. Defaults to None (a new figure).
        path: where to save the figure (format from the suffix). Defaults to None.
        title: the axis title. Defaults to None.
        xlabel: the x-axis label. Defaults to `"active parameters"` or
            `"multiply-adds per example"`.
        log: a logarithmic cost axis. Defaults to True.

    Returns:
        The `matplotlib.figure.Figure`.

    Raises:
        ValueError: naming `cost` when it is not `"params"` or `"macs"`, or
            `points` when it is empty or a point lacks a key.
    """
    if cost not in COSTS:
        raise ValueError(f"`cost` must be one of {', '.join(COSTS)}; got {cost!r}.")
    by_method: dict[str, list[tuple[float, float]]] = {}
    for point in points:
        missing = {"method", "accuracy", cost} - set(point)
        if missing:
            raise ValueError(f"every point of `points` needs the keys method, accuracy and "
                             f"{cost}; {dict(point)!r} lacks {', '.join(sorted(missing))}.")
        by_method.setdefault(str(point["method"]), []).append(
            (float(point[cost]), 100 * float(point["accuracy"])))
    if not by_method:
        raise ValueError("`points` is empty.")
    fig, ax = figure_and_axes(ax, (6, 4.2))
    series(ax, {m: sorted(p) for m, p in by_method.items()})
    if log:
        ax.set_xscale("log")
    default = "active parameters" if cost == "params" else COSTS[cost]
    style(ax, title, xlabel or default, "test accuracy (%)")
    return finish(fig, path)

"""Accuracy against cost: one line of points per method (Changpinyo et al.'s
Figures 2-3, the DSR and prediction benchmark tables as pictures)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tf_pe.viz.figure import figure_and_axes, finish, series, style

COSTS = {"params": "parameters", "macs": "multiply-adds per example"}


def accuracy_vs_cost(points: Iterable[Mapping], cost: str = "params", ax=None, path=None,
                     title: str | None = None, xlabel: str | None = None,
                     ylabel: str = "test accuracy (%)", log: bool | None = None,
                     connect: bool = True):
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
        ylabel: the y-axis label. Defaults to `"test accuracy (%)"`.
        log: a logarithmic cost axis; None for one when the costs span a
            factor of 10 or more. Defaults to None.
        connect: join a method's points with a line; False for markers only
            (points that are separate settings rather than a sweep). Defaults
            to True.

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
    from matplotlib.ticker import EngFormatter

    fig, ax = figure_and_axes(ax, (6, 4.2))
    series(ax, {m: sorted(p) for m, p in by_method.items()}, connect=connect)
    costs = [x for p in by_method.values() for x, _ in p]
    if log is None:
        log = min(costs) > 0 and max(costs) >= 10 * min(costs)
    if log:
        ax.set_xscale("log")
    else:
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    default = "active parameters" if cost == "params" else COSTS[cost]
    style(ax, title, xlabel or default, ylabel)
    return finish(fig, path)

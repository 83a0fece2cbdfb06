"""Curves over training: densification (Changpinyo et al. 2017, Figure 6) and
the per-layer densities that dynamic sparse reparameterization moves
(Mostafa & Wang 2019)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tf_pe.viz.figure import figure_and_axes, finish, log_axis, series, style


def densification_curve(steps: Sequence[int], density: Sequence[float],
                        accuracy: Sequence[float] | None = None, ax=None, path=None,
                        title: str | None = None, accuracy_label: str = "accuracy"):
    """Plots the connection density, and optionally accuracy, against the step.

    The density (a fraction, drawn in percent on a logarithmic axis, as
    incremental densification doubles it) is on the left axis; the accuracy (a
    fraction, drawn in percent) on a second axis on the right.

    Args:
        steps: training steps.
        density: the density of the channel-sparse layers at each step, for
            example active connections over all connections.
        accuracy: the accuracy at each step (the running training accuracy of
            Keras' logs, or a test accuracy). Defaults to None (density only).
        ax: a matplotlib axis to draw into. Defaults to None (a new figure).
        path: where to save the figure. Defaults to None.
        title: the axis title. Defaults to None.
        accuracy_label: names the accuracy in the legend and on its axis.
            Defaults to `"accuracy"`.

    Returns:
        The `matplotlib.figure.Figure`.

    Raises:
        ValueError: naming `density` or `accuracy` when its length differs from
            `steps`'.
    """
    for name, values in (("density", density), ("accuracy", accuracy)):
        if values is not None and len(values) != len(steps):
            raise ValueError(f"`{name}` must have one value per step ({len(steps)}), "
                             f"got {len(values)}.")
    fig, ax = figure_and_axes(ax, (6, 4))
    ax.plot(steps, [100 * d for d in density], color="C0", label="density")
    log_axis(ax)
    style(ax, title, "training step", "connection density (%)", legend=False)
    handles = ax.get_lines()
    if accuracy is not None:
        twin = ax.twinx()
        twin.plot(steps, [100 * a for a in accuracy], color="C1", label=accuracy_label)
        twin.set_ylabel(f"{accuracy_label} (%)")
        handles = [*handles, *twin.get_lines()]
    ax.legend(handles, [h.get_label() for h in handles], loc="lower right")
    return finish(fig, path)


def layer_density_history(history: Iterable[Mapping], ax=None, path=None,
                          title: str | None = None, log: bool = True):
    """Plots each masked layer's density against the step, one line per layer.

    `history` is the `history` of a mask-update callback
    (`DynamicSparseReparam`, `SET`, `GradualMagnitudePruning`) or the
    `"history"` of its `record_path` JSON: records with `"step"` and
    `"density"` (`{layer name: fraction active}`); skipped steps (no
    `"density"`) are left out.

    Args:
        history: the update records.
        ax: a matplotlib axis to draw into. Defaults to None (a new figure).
        path: where to save the figure. Defaults to None.
        title: the axis title. Defaults to None.
        log: a logarithmic density axis (layer densities often span 1-100%).
            Defaults to True.

    Returns:
        The `matplotlib.figure.Figure`.

    Raises:
        ValueError: naming `history` when no record has densities.
    """
    if isinstance(history, Mapping | str) or not isinstance(history, Iterable):
        raise TypeError(f"`history` must be a list of update records, got "
                        f"{type(history).__name__}.")
    layers: dict[str, list[tuple[int, float]]] = {}
    for record in history:
        for name, value in record.get("density", {}).items():
            layers.setdefault(name, []).append((int(record["step"]), 100 * float(value)))
    if not layers:
        raise ValueError("`history` has no record with per-layer densities: pass the "
                         "`history` of a mask-update callback after training.")
    fig, ax = figure_and_axes(ax, (6, 4))
    series(ax, layers)
    if log:
        log_axis(ax)
    style(ax, title, "training step", "layer density (% of weights active)",
          legend_size=8)
    return finish(fig, path)

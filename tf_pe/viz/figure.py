"""Figure plumbing shared by the plots: new figures without pyplot, and saving.

Figures are `matplotlib.figure.Figure` objects made without `pyplot`, so no
backend or global figure list is involved (no figure to close, safe in scripts
and tests); in a notebook they display after `%matplotlib inline`.
matplotlib is imported here, inside the functions, so `import tf_pe` does not
need it.
"""

from __future__ import annotations

import os


def new_figure(figsize: tuple[float, float]):
    """Returns an empty `matplotlib.figure.Figure` of `figsize` inches."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def figure_and_axes(ax, figsize: tuple[float, float]):
    """Returns `(figure, axes)`: `ax` and its figure, or a new one-panel figure."""
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(figsize)
    return fig, fig.subplots()


def panels(rows: int, cols: int, axes, cell_size: tuple[float, float],
           name: str = "axes"):
    """Returns `(figure, flat list of rows * cols axes)`: the given `axes`, or a
    new `rows x cols` grid of panels of `cell_size` inches each.

    Raises:
        ValueError: naming `name` when `axes` is given with another length.
    """
    count = rows * cols
    if axes is not None:
        axes = list(axes)
        if len(axes) != count:
            raise ValueError(f"`{name}` must hold {count} axes ({rows} x {cols}), "
                             f"got {len(axes)}.")
        return axes[0].figure, axes
    fig = new_figure((cell_size[0] * cols, cell_size[1] * rows))
    return fig, list(fig.subplots(rows, cols, squeeze=False).ravel())


def series(ax, data, markers: str = "os^Dv<>PX*", connect: bool = True) -> None:
    """Draws one line per label of `data` (`{label: [(x, y), ...]}`, points in
    the order given), cycling through `markers`; `connect=False` draws the
    markers only."""
    for i, (label, points) in enumerate(data.items()):
        xs, ys = zip(*points, strict=True) if points else ((), ())
        ax.plot(xs, ys, marker=markers[i % len(markers)], label=label,
                linestyle="-" if connect else "none")


def log_axis(ax, which: str = "y") -> None:
    """Makes the `which` ("x" or "y") axis of `ax` logarithmic, labelled with
    plain numbers (`40`, `0.5`, not `4x10^1`) at the powers of ten and at 2x
    and 5x them."""
    import math

    from matplotlib.ticker import FuncFormatter

    def minor(value, _):
        return f"{value:g}" if round(value / 10 ** math.floor(math.log10(value))) in (2, 5) \
            else ""

    getattr(ax, f"set_{which}scale")("log")
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(FuncFormatter(minor))


def finish(fig, path: str | os.PathLike | None = None, dpi: int = 100):
    """Lays `fig` out and, when `path` is given, writes it there (format from
    the suffix). Returns `fig`."""
    fig.tight_layout()
    if path is not None:
        fig.savefig(os.fspath(path), dpi=dpi)
    return fig


def style(ax, title: str | None = None, xlabel: str | None = None,
          ylabel: str | None = None, legend: bool = True, legend_size=None) -> None:
    """Title, axis labels, a light grid and (when something is labelled) a legend."""
    ax.set(**{k: v for k, v in (("title", title), ("xlabel", xlabel), ("ylabel", ylabel))
              if v is not None})
    ax.grid(True, alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=legend_size)

"""The shared figure plumbing: grids of panels, series, saving."""

import numpy as np
import pytest

from tf_pe.viz.figure import figure_and_axes, finish, log_axis, panels, series, style


def test_panels_makes_a_grid_or_checks_the_given_axes():
    fig, axes = panels(2, 3, None, (2, 1.5))
    assert len(axes) == 6 and len(fig.axes) == 6
    assert tuple(fig.get_size_inches()) == (6, 3)
    same_fig, same = panels(1, 2, axes[:2], (2, 1.5))
    assert same_fig is fig and same == axes[:2]
    with pytest.raises(ValueError, match="`grid` must hold 4 axes"):
        panels(2, 2, axes, (2, 1.5), name="grid")


def test_series_one_line_per_label_with_or_without_lines(tmp_path):
    fig, ax = figure_and_axes(None, (3, 3))
    series(ax, {"a": [(1, 2), (3, 4)], "b": [(5, 6)]}, connect=False)
    a, b = ax.get_lines()
    np.testing.assert_array_equal(a.get_xdata(), [1, 3])
    assert (a.get_marker(), b.get_marker()) == ("o", "s")
    assert a.get_linestyle() == "None"
    style(ax, "t", "x", "y")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    assert finish(fig, tmp_path / "f.png") is fig
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"


def test_log_axis_labels_plain_numbers():
    _, ax = figure_and_axes(None, (3, 3))
    ax.plot([1, 2], [1.5, 100])
    log_axis(ax)
    assert ax.get_yscale() == "log"
    major, minor = ax.yaxis.get_major_formatter(), ax.yaxis.get_minor_formatter()
    assert [major(v, 0) for v in (1, 10, 100)] == ["1", "10", "100"]
    assert [minor(v, 0) for v in (2, 3, 5, 20, 40, 50)] == ["2", "", "5", "20", "", "50"]

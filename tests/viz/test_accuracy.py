"""accuracy_vs_cost: one line per method, points sorted by cost, in percent."""

import numpy as np
import pytest

from tf_pe.viz import accuracy_vs_cost

POINTS = [
    {"method": "dsr", "params": 300, "macs": 30, "accuracy": 0.80},
    {"method": "static", "params": 300, "macs": 20, "accuracy": 0.75},
    {"method": "dsr", "params": 100, "macs": 10, "accuracy": 0.70},
    {"method": "dense", "params": 1000, "macs": 100, "accuracy": 0.90},
]


@pytest.mark.parametrize("cost", ["params", "macs"])
def test_one_line_per_method_sorted_by_cost(cost, tmp_path):
    fig = accuracy_vs_cost(POINTS, cost=cost, path=tmp_path / "a.png")
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["dsr", "static", "dense"]
    dsr = sorted((p[cost], 100 * p["accuracy"]) for p in POINTS if p["method"] == "dsr")
    np.testing.assert_allclose(lines["dsr"].get_xdata(), [x for x, _ in dsr])
    np.testing.assert_allclose(lines["dsr"].get_ydata(), [y for _, y in dsr])
    assert ax.get_xscale() == "log"
    assert ax.get_ylabel() == "test accuracy (%)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(lines)
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_draws_into_a_given_axis():
    from matplotlib.figure import Figure

    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert accuracy_vs_cost(POINTS[:1], ax=right, log=False) is fig
    assert len(right.get_lines()) == 1 and not left.get_lines()
    assert right.get_xscale() == "linear"


def test_log_axis_only_when_costs_span_a_decade():
    near = [{"method": "m", "params": p, "accuracy": 0.5} for p in (100, 900)]
    far = [{"method": "m", "params": p, "accuracy": 0.5} for p in (100, 1000)]
    assert accuracy_vs_cost(near).axes[0].get_xscale() == "linear"
    assert accuracy_vs_cost(far).axes[0].get_xscale() == "log"
    assert accuracy_vs_cost(near, log=True).axes[0].get_xscale() == "log"


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="`cost`"):
        accuracy_vs_cost(POINTS, cost="flops")
    with pytest.raises(ValueError, match=r"`points`.*lacks accuracy"):
        accuracy_vs_cost([{"method": "x", "params": 1}])
    with pytest.raises(ValueError, match="`points` is empty"):
        accuracy_vs_cost([])

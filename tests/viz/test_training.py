"""Densification curves and per-layer DSR densities."""

import keras
import numpy as np
import pytest

import tf_pe
from tf_pe.viz import densification_curve, layer_density_history


def test_densification_curve_density_and_accuracy_on_two_axes():
    steps = [0, 10, 20, 30]
    fig = densification_curve(steps, [0.01, 0.02, 0.04, 0.08], [0.1, 0.5, 0.6, 0.7])
    left, right = fig.axes
    (density,), (accuracy,) = left.get_lines(), right.get_lines()
    np.testing.assert_allclose(density.get_ydata(), [1, 2, 4, 8])
    np.testing.assert_allclose(accuracy.get_ydata(), [10, 50, 60, 70])
    np.testing.assert_array_equal(accuracy.get_xdata(), steps)
    assert left.get_yscale() == "log"
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["density", "accuracy"]


def test_densification_curve_density_only_and_length_check():
    fig = densification_curve([0, 1], [0.5, 1.0])
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 1
    with pytest.raises(ValueError, match="`accuracy`"):
        densification_curve([0, 1], [0.5, 1.0], [0.3])


def test_layer_density_history_from_a_dsr_run():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8,)), tf_pe.layers.MaskedDense(16, density=0.2, name="a"),
        tf_pe.layers.MaskedDense(4, density=0.2, name="b")])
    model.compile("sgd", "mse")
    dsr = tf_pe.callbacks.DynamicSparseReparam(period=2, target_prune_fraction=0.2,
                                               initial_threshold=1.0)
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    model.fit(x, x[:, :4], batch_size=8, epochs=1, verbose=0, callbacks=[dsr])
    history = [*dsr.history, {"step": 99, "skipped": "non-finite loss or weights"}]

    fig = layer_density_history(history)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert list(lines) == ["a", "b"]
    assert fig.axes[0].get_yscale() == "log"
    done = [r for r in dsr.history if "density" in r]
    assert len(done) == 4  # 8 steps, period 2
    np.testing.assert_array_equal(lines["a"].get_xdata(), [r["step"] for r in done])
    final = 100 * np.count_nonzero(model.get_layer("a").mask.numpy()) / (8 * 16)
    assert lines["a"].get_ydata()[-1] == pytest.approx(final)


def test_layer_density_history_needs_densities():
    with pytest.raises(ValueError, match="`history`"):
        layer_density_history([{"step": 1, "skipped": "non-finite loss or weights"}])

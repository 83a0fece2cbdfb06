"""Redundancy matrix A: closed form vs gradient descent vs numpy least squares."""

import keras
import numpy as np
import pytest

from tf_pe import compression


def _linear_model(n_in=6, units=5):
    inp = keras.Input((n_in,))
    h = keras.layers.Dense(units, name="h")(inp)
    out = keras.layers.Dense(3, name="out")(h)
    return keras.Model(inp, out)


def _lstsq_reference(z: np.ndarray):
    """Row i of A and c_i by regressing z[:, i] on the other columns and 1."""
    n = z.shape[1]
    a, c, err = np.zeros((n, n)), np.zeros(n), np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        design = np.concatenate([z[:, others], np.ones((len(z), 1))], 1)
        coef, *_ = np.linalg.lstsq(design, z[:, i], rcond=None)
        a[i, others], c[i] = coef[:-1], coef[-1]
        err[i] = np.mean((z[:, i] - design @ coef) ** 2)
    return a, c, err


@pytest.fixture(scope="module")
def setup():
    keras.utils.set_random_seed(1)
    model = _linear_model()
    x = np.random.default_rng(0).normal(size=(400, 6)).astype("float32")
    z = np.asarray(model.get_layer("h")(x), dtype=np.float64)
    # make unit 3 noisy-dependent so A has nontrivial structure
    return model, x, z


def test_closed_form_matches_lstsq(setup):
    model, x, z = setup
    red = compression.redundancy(model, "h", x, ridge=0.0)
    a, c, err = _lstsq_reference(z)
    np.testing.assert_allclose(red.A, a, atol=1e-6)
    np.testing.assert_allclose(red.intercept, c, atol=1e-6)
    np.testing.assert_allclose(red.error, err, rtol=1e-4, atol=1e-8)
    assert np.all(np.diag(red.A) == 0)
    assert red.samples == 400


def test_gradient_descent_matches_closed_form():
    # Well-conditioned activations: 6 independent inputs through a random 6x4 map.
    keras.utils.set_random_seed(2)
    model = _linear_model(n_in=6, units=4)
    x = np.random.default_rng(1).normal(size=(300, 6)).astype("float32")
    closed = compression.redundancy(model, "h", x, ridge=1e-3)
    gd = compression.redundancy(model, "h", x, ridge=1e-3, method="gradient_descent",
                                steps=20000)
    np.testing.assert_allclose(gd.A, closed.A, atol=1e-5)
    np.testing.assert_allclose(gd.error, closed.error, rtol=1e-4)


def test_dependent_unit_is_most_predictable():
    keras.utils.set_random_seed(3)
    model = _linear_model()
    k, b = model.get_layer("h").get_weights()
    k[:, 2] = k[:, 0] + k[:, 1]
    b[2] = b[0] + b[1]
    model.get_layer("h").set_weights([k, b])
    x = np.random.default_rng(2).normal(size=(200, 6)).astype("float32")
    red = compression.redundancy(model, "h", x)
    assert set(red.order()[:3]) == {0, 1, 2}
    assert red.relative_error[2] < 1e-8
    assert red.relative_error[3] > 0.1


def test_transformation_multi_unit_formula():
    # Z = [a, b, a + b, 2a - b]: removing J = {2, 3} leaves H = {0, 1}.
    rng = np.random.default_rng(3)
    ab = rng.normal(size=(500, 2))
    z = np.stack([ab[:, 0], ab[:, 1], ab.sum(1), 2 * ab[:, 0] - ab[:, 1]], 1)
    a = compression.lre.solve(np.cov(z.T, bias=True), 1e-10)
    red = compression.Redundancy("h", a, np.zeros(4), np.zeros(4), z.mean(0), z.var(0),
                                 500, "closed_form")
    m = red.transformation([2, 3])
    z_j = np.concatenate([z[:, :2], np.ones((500, 1))], 1) @ m.T
    np.testing.assert_allclose(z_j, z[:, 2:], atol=1e-5)


def test_select_units_guards():
    red = compression.Redundancy(
        "h", np.array([[0, 1.0, 0], [1.0, 0, 0], [0, 0, 0]]), np.zeros(3),
        np.array([0.0, 0.0, 5.0]), np.zeros(3), np.array([1.0, 1.0, 5.0]), 10, "closed_form")
    # units 0 and 1 predict only each other: I - A_JJ is singular for J = {0, 1}
    # so only one of them is picked, then unit 2 (relative error 1.0: unpredictable)
    picked = compression.select_units(red, 2)
    assert len(picked) == 2 and picked[1] == 2 and picked[0] in (0, 1)
    # max_error excludes unit 2
    assert list(compression.select_units(red, 2, max_error=0.5)) == list(picked[:1])
    # at least one unit is always kept
    assert len(compression.select_units(red, 10)) == 2


def test_bad_arguments(setup):
    model, x, _ = setup
    with pytest.raises(ValueError, match="`method`"):
        compression.redundancy(model, "h", x, method="svd")
    with pytest.raises(ValueError, match="`ridge`"):
        compression.redundancy(model, "h", x, ridge=-1.0)
    with pytest.raises(ValueError, match="not in model"):
        compression.redundancy(model, "nope", x)
    with pytest.raises(ValueError, match="model output"):
        compression.redundancy(model, "out", x)

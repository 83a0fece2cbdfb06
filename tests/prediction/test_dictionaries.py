"""Dictionaries of weight prediction against independent references."""

import numpy as np
import pytest

from tf_pe import prediction
from tf_pe.prediction import dictionaries as dicts


def _gp_mean_reference(coords, alpha, values, sigma, lam):
    """Kernel ridge prediction written out entry by entry (no shared code)."""
    def k(a, b):
        return np.exp(-np.sum((a - b) ** 2) / (2 * sigma**2))
    m = len(alpha)
    big = np.array([[k(coords[alpha[i]], coords[alpha[j]]) for j in range(m)]
                    for i in range(m)]) + lam * np.eye(m)
    weights = np.linalg.solve(big, values)
    return np.array([sum(k(c, coords[alpha[i]]) * weights[i] for i in range(m))
                     for c in coords])


def test_se_reconstructs_a_smooth_filter_from_a_subset_of_its_pixels():
    h = w = 8
    y, x = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    smooth = np.sin(x / 2.5) + 0.5 * np.cos(y / 3.0)  # a smooth 8x8 "feature"
    se = prediction.SE(length_scale=1.5, ridge=1e-4, grid=(h, w))
    domain = dicts.Domain.grid((h, w))
    u, alpha = se.matrices(domain, n_alpha=32, columns=1, seed=3)
    predicted = u[0].astype(np.float64) @ smooth.ravel()[alpha[0]]
    coords = np.stack([y.ravel(), x.ravel()], 1).astype(float)
    reference = _gp_mean_reference(coords, alpha[0], smooth.ravel()[alpha[0]], 1.5, 1e-4)
    np.testing.assert_allclose(predicted, reference, atol=1e-4)
    # half of the pixels predict the whole filter within 5% relative error
    rel = np.linalg.norm(predicted - smooth.ravel()) / np.linalg.norm(smooth)
    assert rel < 0.05
    # while a rough (random) filter is not predictable from the same pixels
    rough = np.random.default_rng(0).normal(size=h * w)
    rel_rough = np.linalg.norm(u[0] @ rough[alpha[0]] - rough) / np.linalg.norm(rough)
    assert rel_rough > 0.3


def test_se_kernel_is_zero_across_channels_and_one_on_the_diagonal():
    k = prediction.SE(length_scale=1.0).kernel(dicts.Domain.grid((2, 2, 2)))
    np.testing.assert_allclose(np.diag(k), 1.0)
    # index (y, x, c) -> (y * 2 + x) * 2 + c; (0,0,0) vs (0,1,0): distance 1
    assert k[0, 2] == pytest.approx(np.exp(-0.5))
    assert k[0, 1] == 0.0  # (0,0,0) vs (0,0,1): other channel


def test_ridge_with_identity_kernel_selects_and_shrinks():
    alpha = np.array([1, 4])
    u = prediction.ridge_dictionary(np.eye(5), alpha, ridge=0.25)
    expected = np.zeros((5, 2))
    expected[1, 0] = expected[4, 1] = 1 / 1.25
    np.testing.assert_allclose(u, expected)


def test_emp_from_a_known_covariance_matches_a_hand_computation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4)) @ np.array(
        [[1, 0.5, 0, 0], [0, 1, 0.3, 0], [0, 0, 1, 0.2], [0, 0, 0, 1.0]])
    emp = prediction.Emp(ridge=0.1).fit(x)
    centered = x - x.mean(0)
    cov = np.einsum("ni,nj->ij", centered, centered) / len(x)
    np.testing.assert_allclose(emp.covariance, cov, rtol=1e-10)
    u, alpha = emp.matrices(dicts.Domain.chain(4), n_alpha=2, columns=1, seed=0)
    a = alpha[0]
    lam = 0.1 * np.trace(cov) / 4
    hand = cov[:, a] @ np.linalg.inv(cov[np.ix_(a, a)] + lam * np.eye(2))
    np.testing.assert_allclose(u[0], hand, rtol=1e-5)
    emp2 = prediction.Emp2(ridge=0.1).fit(x)
    np.testing.assert_allclose(emp2.kernel(dicts.Domain.chain(4)), cov**2, rtol=1e-10)


def test_emp_before_fit_and_with_wrong_size_raise():
    with pytest.raises(ValueError, match="must be fitted"):
        prediction.Emp().matrices(dicts.Domain.chain(3), 1, 1, 0)
    emp = prediction.Emp().fit(np.ones((5, 3)) * np.arange(5)[:, None])
    with pytest.raises(ValueError, match="fitted to 3 inputs"):
        emp.matrices(dicts.Domain.chain(4), 1, 1, 0)


def test_alpha_is_uniform_distinct_sorted_and_seeded():
    a = prediction.draw_alpha(100, 30, 4, seed=7)
    assert a.shape == (4, 30)
    for row in a:
        assert len(set(row)) == 30 and np.all(np.diff(row) > 0)
    np.testing.assert_array_equal(a, prediction.draw_alpha(100, 30, 4, seed=7))
    assert not np.array_equal(a[0], a[1])
    counts = np.bincount(prediction.draw_alpha(10, 5, 4000, seed=1).ravel(), minlength=10)
    assert counts.min() > 1800 and counts.max() < 2200  # 2000 expected each


def test_randcon_is_identity_columns_and_randfixu_gaussian():
    u, alpha = prediction.RandCon().matrices(dicts.Domain.chain(6), 3, 2, seed=0)
    for j in range(2):
        np.testing.assert_array_equal(u[j], np.eye(6)[:, alpha[j]])
    u, _ = prediction.RandFixU().matrices(dicts.Domain.chain(400), 100, 1, seed=0)
    assert abs(u.mean()) < 0.01 and u.std() == pytest.approx(0.1, rel=0.05)
    assert prediction.LowRank.trainable and not prediction.RandFixU.trainable


def test_ae_atoms_are_unit_norm_and_learn_the_data_subspace():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(16, 2)))[0]
    x = rng.normal(size=(4096, 2)) @ basis.T * 3
    ae = prediction.AE(size=4, epochs=20, seed=0).fit(x)
    assert ae.atoms.shape == (16, 4)
    np.testing.assert_allclose(np.linalg.norm(ae.atoms, axis=0), 1.0, rtol=1e-6)
    # the atoms lie mostly in the 2-D data subspace (random vectors: ~2/16)
    in_subspace = np.linalg.norm(basis.T @ ae.atoms, axis=0) ** 2
    assert in_subspace.mean() > 0.5
    u, alpha = ae.matrices(dicts.Domain.chain(16), 3, 2, seed=0)
    np.testing.assert_array_equal(u[1], ae.atoms[:, alpha[1]].astype(np.float32))
    with pytest.raises(ValueError, match="larger `size`"):
        ae.matrices(dicts.Domain.chain(16), 5, 1, seed=0)


@pytest.mark.parametrize("name", sorted(prediction.DICTIONARIES))
def test_get_and_serialize_round_trip(name):
    d = prediction.get(name)
    assert d.name == name
    again = prediction.get(prediction.serialize(d))
    assert type(again) is type(d) and again.get_config() == d.get_config()


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="`dictionary` must be one of"):
        prediction.get("gabor")
    with pytest.raises(ValueError, match="`length_scale`"):
        prediction.SE(length_scale=0)
    with pytest.raises(ValueError, match="`ridge`"):
        prediction.Emp(ridge=-1)
    with pytest.raises(ValueError, match="`grid`"):
        prediction.SE(grid=(2, 0))

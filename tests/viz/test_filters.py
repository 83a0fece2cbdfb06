"""learned_vs_predicted: a row of images per feature, on one gray scale."""

import numpy as np
import pytest

from tf_pe.viz import learned_vs_predicted


def test_rows_of_learned_kept_predicted_images():
    rng = np.random.default_rng(0)
    learned = rng.normal(size=(12, 2))
    predicted = rng.normal(size=(12, 2))
    kept = [0, 5, 7]
    fig = learned_vs_predicted(learned, predicted, kept, image_shape=(3, 4),
                               kept_label="25% kept")
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes[:3]] == ["learned", "25% kept", "predicted"]
    images = [ax.get_images()[0] for ax in fig.axes]
    np.testing.assert_allclose(images[3].get_array(), learned[:, 1].reshape(3, 4))
    np.testing.assert_allclose(images[5].get_array(), predicted[:, 1].reshape(3, 4))
    shown = np.ma.filled(images[4].get_array().astype(float), np.nan).ravel()
    np.testing.assert_allclose(shown[kept], learned[kept, 1])
    assert np.isnan(np.delete(shown, kept)).all()
    lim = np.abs(learned[:, 1]).max()
    assert images[5].get_clim() == pytest.approx((-lim, lim))


def test_without_kept_and_bad_shapes():
    fig = learned_vs_predicted(np.ones((4, 3)), np.ones((4, 3)), image_shape=(2, 2))
    assert len(fig.axes) == 6
    with pytest.raises(ValueError, match="`predicted`"):
        learned_vs_predicted(np.ones((4, 3)), np.ones((4, 2)), image_shape=(2, 2))
    with pytest.raises(ValueError, match="`image_shape`"):
        learned_vs_predicted(np.ones((4, 3)), np.ones((4, 3)), image_shape=(3, 3))

"""connection_masks: one image per channel-sparse layer, equal to its mask."""

import keras
import numpy as np
import pytest

import tf_pe
from tf_pe.viz import connection_masks


def test_one_image_per_sparse_layer_showing_its_mask(tmp_path):
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        tf_pe.layers.SparseChannelConv2D(16, 3, density=0.25, seed=0, name="c1"),
        keras.layers.Conv2D(4, 1, name="plain"),
        tf_pe.layers.SparseChannelConv2D(32, 3, density=0.1, seed=1, name="c2")])
    fig = connection_masks(model, path=tmp_path / "m.png")
    assert len(fig.axes) == 2
    for ax, name in zip(fig.axes, ("c1", "c2"), strict=True):
        (image,) = ax.get_images()
        mask = model.get_layer(name).mask.numpy()
        np.testing.assert_array_equal(image.get_array(), mask != 0)
        assert ax.get_title().startswith(f"{name}: ")
    assert fig.axes[0].get_title() == (
        f"c1: {100 * np.count_nonzero(model.get_layer('c1').mask.numpy()) / 48:.0f}% "
        "connected")
    assert (tmp_path / "m.png").stat().st_size > 1000


def test_masks_from_a_mapping_and_bad_input():
    fig = connection_masks({"eye": np.eye(4)})
    np.testing.assert_array_equal(fig.axes[0].get_images()[0].get_array(), np.eye(4) != 0)
    with pytest.raises(ValueError, match="`source`"):
        connection_masks(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match=r"`source`.*2-D"):
        connection_masks({"k": np.ones((3, 3, 2, 2))})
    with pytest.raises(ValueError, match="`axes`"):
        connection_masks({"a": np.eye(2), "b": np.eye(2)}, axes=[None])


def test_small_masks_get_one_tick_per_channel():
    fig = connection_masks({"one_input": np.ones((1, 12))})
    ax = fig.axes[0]
    assert list(ax.get_yticks()) == [0]
    assert all(float(t).is_integer() for t in ax.get_xticks())

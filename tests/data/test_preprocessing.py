"""Preprocessing on synthetic tensors."""

import numpy as np
import pytest
import tensorflow as tf

from tf_pe.data import preprocessing


def _image(height=32, width=32, channels=3):
    return tf.constant(
        np.arange(height * width * channels).reshape(height, width, channels) % 251, tf.uint8
    )


def _seed(i):
    return tf.constant([7, i], tf.int64)


def test_scale_and_normalize():
    images = tf.constant([[[[0], [255]]]], tf.uint8)
    np.testing.assert_allclose(preprocessing.scale(images).numpy().ravel(), [0.0, 1.0])
    out = preprocessing.normalize(tf.constant([[0.5, 0.25]]), mean=(0.5, 0.25), std=(0.1, 0.5))
    np.testing.assert_allclose(out.numpy(), [[0.0, 0.0]])
    out = preprocessing.normalize(tf.constant([[1.0, 1.0]]), mean=(0.5, 0.0), std=(0.25, 2.0))
    np.testing.assert_allclose(out.numpy(), [[2.0, 0.5]])
    with pytest.raises(ValueError, match="same length"):
        preprocessing.normalize(images, mean=(0.1,), std=(0.1, 0.2))
    with pytest.raises(ValueError, match="std"):
        preprocessing.normalize(images, mean=(0.1,), std=(0.0,))


def test_pad_crop_flip_keeps_shape_and_dtype():
    image = _image()
    out = preprocessing.pad_crop_flip(image, _seed(0), pad=4)
    assert out.shape == (32, 32, 3) and out.dtype == tf.uint8


def test_pad_crop_flip_is_deterministic_by_seed():
    image = _image()
    a = preprocessing.pad_crop_flip(image, _seed(1), pad=4)
    b = preprocessing.pad_crop_flip(image, _seed(1), pad=4)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    outputs = {
        preprocessing.pad_crop_flip(image, _seed(i), pad=4).numpy().tobytes() for i in range(10)
    }
    assert len(outputs) > 1


def _is_crop_of(out, padded, flipped):
    """Whether `out` is some window of `padded` (optionally mirrored)."""
    source = padded[:, ::-1] if flipped else padded
    h, w = out.shape[:2]
    return any(
        np.array_equal(source[i : i + h, j : j + w], out)
        for i in range(source.shape[0] - h + 1)
        for j in range(source.shape[1] - w + 1)
    )


def test_pad_crop_flip_crops_the_padded_image_and_flips_for_some_seed():
    image = _image(8, 8, 1)
    padded = np.pad(image.numpy(), [(2, 2), (2, 2), (0, 0)])
    flips = 0
    for i in range(12):
        out = preprocessing.pad_crop_flip(image, _seed(i), pad=2).numpy()
        unflipped = _is_crop_of(out, padded, flipped=False)
        flipped = _is_crop_of(out, padded, flipped=True)
        assert unflipped or flipped
        flips += flipped and not unflipped
    assert 0 < flips < 12


def test_no_flip_and_no_pad():
    image = _image(8, 8, 1)
    out = preprocessing.pad_crop_flip(image, _seed(3), pad=0, flip=False)
    np.testing.assert_array_equal(out.numpy(), image.numpy())
    with pytest.raises(ValueError, match="pad"):
        preprocessing.pad_crop_flip(image, _seed(3), pad=-1)


def test_resize_shorter_side():
    out = preprocessing.resize_shorter_side(tf.zeros([300, 400, 3], tf.uint8), 256)
    assert tuple(out.shape) == (256, 341, 3)
    out = preprocessing.resize_shorter_side(tf.zeros([500, 100, 3]), 64)
    assert tuple(out.shape) == (320, 64, 3)


def test_imagenet_eval_center_crop():
    # Columns carry their index, so the central crop's columns are known exactly.
    cols = np.tile(np.arange(256 * 2, dtype=np.float32)[None, :, None], (256, 1, 3))
    out = preprocessing.imagenet_eval(tf.constant(cols), image_size=224)
    assert tuple(out.shape) == (224, 224, 3) and out.dtype == tf.float32
    # 256x512 -> resized to 256x512 (shorter side already 256), crop offsets (16, 144).
    np.testing.assert_allclose(out.numpy()[0, :, 0], np.arange(144, 144 + 224), atol=1e-3)


def test_imagenet_train_shape_and_determinism():
    image = tf.random.stateless_uniform([120, 90, 3], seed=[1, 2], maxval=255)
    a = preprocessing.imagenet_train(image, _seed(5), image_size=64)
    b = preprocessing.imagenet_train(image, _seed(5), image_size=64)
    c = preprocessing.imagenet_train(image, _seed(6), image_size=64)
    assert tuple(a.shape) == (64, 64, 3)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())

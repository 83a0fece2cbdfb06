"""Image preprocessing: scaling, normalization, seeded augmentation, ImageNet crops.

Every random function is *stateless*: it takes a `seed` tensor of shape `[2]` (int32
or int64) and returns the same output for the same seed, as `tf.image.stateless_*`
do. `tf_pe.data.load` draws one such seed per example from a seeded stream, so a
pipeline is reproducible from its `seed` argument alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

IMAGENET_RESIZE_RATIO = 256 / 224
"""Shorter side before cropping, relative to the crop: 224-pixel crops from 256."""


def scale(images: tf.Tensor) -> tf.Tensor:
    """Converts pixels in `[0, 255]` (uint8 or float) to float32 in `[0, 1]`.

    Args:
        images: An image or a batch of images, channels last.

    Returns:
        `images / 255` as float32.
    """
    return tf.cast(images, tf.float32) / 255.0


def normalize(images: tf.Tensor, mean: Sequence[float], std: Sequence[float]) -> tf.Tensor:
    """Standardizes channels: `(images - mean) / std`.

    Args:
        images: Float images (or a batch) in `[0, 1]`, channels last.
        mean: Per-channel mean of the dataset's pixels in `[0, 1]`.
        std: Per-channel standard deviation, same length as `mean`.

    Returns:
        The standardized float32 images.

    Raises:
        ValueError: If `mean` and `std` differ in length or `std` has a value <= 0.
    """
    if len(mean) != len(std):
        raise ValueError(f"`mean` and `std` must have the same length; got {mean}, {std}.")
    if any(s <= 0 for s in std):
        raise ValueError(f"`std` must be > 0; got {std}.")
    mean_t = tf.constant(mean, tf.float32)
    std_t = tf.constant(std, tf.float32)
    return (tf.cast(images, tf.float32) - mean_t) / std_t


def pad_crop_flip(image: tf.Tensor, seed: tf.Tensor, *, pad: int, flip: bool = True) -> tf.Tensor:
    """Pads with zeros, crops back to the original size at random, maybe flips.

    The standard CIFAR augmentation (He et al. 2016, "Deep Residual Learning for
    Image Recognition", section 4.2: pad 4, random 32x32 crop, horizontal flip).

    Args:
        image: One image `[height, width, channels]`, any dtype.
        seed: Shape `[2]` int32/int64 tensor; the same seed gives the same output.
        pad: Pixels of zero padding on each side, >= 0.
        flip: Whether to also flip left-right with probability 1/2. Defaults to `True`.

    Returns:
        An image with the shape and dtype of `image`.

    Raises:
        ValueError: If `pad` is negative.
    """
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise ValueError(f"`pad` must be an integer >= 0; got {pad!r}.")
    image = tf.convert_to_tensor(image)
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    out = tf.image.stateless_random_crop(padded, tf.shape(image), seed=crop_seed)
    if flip:
        out = tf.image.stateless_random_flip_left_right(out, seed=flip_seed)
    out.set_shape(image.shape)
    return out


def resize_shorter_side(image: tf.Tensor, size: int) -> tf.Tensor:
    """Resizes so that the shorter side is `size`, keeping the aspect ratio.

    Args:
        image: One image `[height, width, channels]`, pixels in `[0, 255]`.
        size: Target length of the shorter side.

    Returns:
        The resized float32 image (bilinear with antialiasing, values in `[0, 255]`).
    """
    hw = tf.cast(tf.shape(image)[:2], tf.float32)
    new_hw = tf.cast(tf.round(hw * (size / tf.reduce_min(hw))), tf.int32)
    new_hw = tf.maximum(new_hw, size)  # Guard against rounding below `size`.
    return tf.image.resize(image, new_hw, method="bilinear", antialias=True)


def imagenet_resize_size(image_size: int) -> int:
    """Returns the shorter side to resize to before taking `image_size` crops."""
    return round(image_size * IMAGENET_RESIZE_RATIO)


def imagenet_train(image: tf.Tensor, seed: tf.Tensor, image_size: int) -> tf.Tensor:
    """ImageNet training crop: resize, random `image_size` square crop, random flip.

    Args:
        image: One image `[height, width, 3]` of any size, pixels in `[0, 255]`.
        seed: Shape `[2]` int32/int64 tensor; the same seed gives the same output.
        image_size: Side of the square crop.

    Returns:
        A float32 image `[image_size, image_size, 3]`, values in `[0, 255]`.
    """
    resized = resize_shorter_side(image, imagenet_resize_size(image_size))
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    crop = tf.image.stateless_random_crop(resized, [image_size, image_size, 3], seed=crop_seed)
    return tf.image.stateless_random_flip_left_right(crop, seed=flip_seed)


def imagenet_eval(image: tf.Tensor, image_size: int) -> tf.Tensor:
    """ImageNet evaluation crop: resize, then the central `image_size` square.

    Args:
        image: One image `[height, width, 3]` of any size, pixels in `[0, 255]`.
        image_size: Side of the square crop.

    Returns:
        A float32 image `[image_size, image_size, 3]`, values in `[0, 255]`.
    """
    resized = resize_shorter_side(image, imagenet_resize_size(image_size))
    hw = tf.shape(resized)[:2]
    top = (hw[0] - image_size) // 2
    left = (hw[1] - image_size) // 2
    crop = resized[top : top + image_size, left : left + image_size, :]
    crop.set_shape([image_size, image_size, 3])
    return crop

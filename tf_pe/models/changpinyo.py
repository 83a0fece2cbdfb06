"""The small MNIST and CIFAR-10 networks of Changpinyo et al. 2017.

"The Power of Sparsity in Convolutional Neural Networks" (Changpinyo, Sandler,
Zhmoginov 2017), sec. 5.1, compares sparse and depth-multiplier networks on MNIST
("3-layer convolutional layers", 99.5% accuracy) and CIFAR-10 ("2 convolutional
layers", 87%), described only as "standard networks provided by TensorFlow". The
layouts here are our reading of those networks (without the batch normalization the
paper says it used for all networks):

* `changpinyo_mnist`: three 'same' convolutions (32 5x5, 64 5x5, 128 3x3), each
  followed by ReLU and a 2x2 max pool, then a linear classifier.
* `changpinyo_cifar`: the TensorFlow CIFAR-10 tutorial network (two 64-filter 5x5
  convolutions, each followed by a 3x3 stride-2 max pool, then dense 384 and 192)
  without its local response normalization layers.

Both return functional `keras.Model`s whose output is **logits** (no softmax).
"""

from collections.abc import Sequence

import keras

from tf_pe.models import _common
from tf_pe.models._common import LayerFactory
from tf_pe.models.scaling import check_depth_multiplier, scale_width

__all__ = ["changpinyo_cifar", "changpinyo_mnist"]

# Three 2x2 'valid' max pools need height and width >= 8.
_MNIST_MIN_SPATIAL = 8


def changpinyo_mnist(
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    depth_multiplier: float = 1.0,
    conv_layer: LayerFactory | None = None,
    dense_layer: LayerFactory | None = None,
    name: str = "changpinyo_mnist",
) -> keras.Model:
    """Builds the 3-layer convolutional MNIST network of Changpinyo et al. 2017.

    ``conv1`` 32 5x5 same relu, maxpool 2, ``conv2`` 64 5x5 same relu, maxpool 2,
    ``conv3`` 128 3x3 same relu, maxpool 2, flatten, ``logits``. The paper only
    calls it a "standard network provided by TensorFlow"; this exact layout is our
    reading. At ``(28, 28, 1)`` and 10 classes it has 137,482 parameters.

    Args:
        input_shape: ``(height, width, channels)``, height and width >= 8.
            Defaults to ``(28, 28, 1)``.
        num_classes: Number of output logits, >= 2. Defaults to 10.
        depth_multiplier: Parameter fraction ``alpha`` > 0; conv filters ``n`` become
            `scale_width(n, alpha)` (Changpinyo et al. 2017, sec. 5.2.1). Defaults
            to 1.0.
        conv_layer: Factory with `keras.layers.Conv2D`'s signature used for every
            convolution, always called with ``name=``. Defaults to `None`
            (`keras.layers.Conv2D`).
        dense_layer: Factory with `keras.layers.Dense`'s signature used for the
            ``logits`` layer, called with ``name=``. Defaults to `None`
            (`keras.layers.Dense`).
        name: Model name. Defaults to ``"changpinyo_mnist"``.

    Returns:
        An uncompiled functional `keras.Model` that outputs logits (no softmax).

    Raises:
        ValueError: If an argument is out of range (the message names it).
    """
    shape = _common.check_input_shape(input_shape, rank=3, min_spatial=_MNIST_MIN_SPATIAL)
    num_classes = _common.check_num_classes(num_classes)
    alpha = check_depth_multiplier(depth_multiplier)
    conv_layer, dense_layer = _common.resolve_factories(conv_layer, dense_layer)

    inputs = keras.Input(shape=shape, name="input")
    x = inputs
    for i, (filters, kernel_size) in enumerate(((32, 5), (64, 5), (128, 3)), start=1):
        x = conv_layer(
            scale_width(filters, alpha),
            kernel_size,
            padding="same",
            activation="relu",
            name=f"conv{i}",
        )(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = dense_layer(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def changpinyo_cifar(
    input_shape: Sequence[int] = (32, 32, 3),
    num_classes: int = 10,
    depth_multiplier: float = 1.0,
    conv_layer: LayerFactory | None = None,
    dense_layer: LayerFactory | None = None,
    name: str = "changpinyo_cifar",
) -> keras.Model:
    """Builds the TensorFlow CIFAR-10 tutorial network used by Changpinyo et al. 2017.

    ``conv1`` 64 5x5 same relu, maxpool 3x3 stride 2 same, ``conv2`` 64 5x5 same
    relu, maxpool 3x3 stride 2 same, flatten, ``fc1`` 384 relu, ``fc2`` 192 relu,
    ``logits``. The tutorial's local response normalization layers are left out.
    At ``(32, 32, 3)`` and 10 classes it has 1,756,426 parameters.

    Args:
        input_shape: ``(height, width, channels)``. Defaults to ``(32, 32, 3)``.
        num_classes: Number of output logits, >= 2. Defaults to 10.
        depth_multiplier: Parameter fraction ``alpha`` > 0; conv filters and hidden
            units ``n`` become `scale_width(n, alpha)` (Changpinyo et al. 2017, sec.
            5.2.1). Defaults to 1.0.
        conv_layer: Factory with `keras.layers.Conv2D`'s signature used for every
            convolution, always called with ``name=``. Defaults to `None`
            (`keras.layers.Conv2D`).
        dense_layer: Factory with `keras.layers.Dense`'s signature used for every
            dense layer, always called with ``name=``. Defaults to `None`
            (`keras.layers.Dense`).
        name: Model name. Defaults to ``"changpinyo_cifar"``.

    Returns:
        An uncompiled functional `keras.Model` that outputs logits (no softmax).

    Raises:
        ValueError: If an argument is out of range (the message names it).
    """
    shape = _common.check_input_shape(input_shape, rank=3)
    num_classes = _common.check_num_classes(num_classes)
    alpha = check_depth_multiplier(depth_multiplier)
    conv_layer, dense_layer = _common.resolve_factories(conv_layer, dense_layer)

    inputs = keras.Input(shape=shape, name="input")
    x = inputs
    for i in (1, 2):
        x = conv_layer(
            scale_width(64, alpha), 5, padding="same", activation="relu", name=f"conv{i}"
        )(x)
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = dense_layer(scale_width(384, alpha), activation="relu", name="fc1")(x)
    x = dense_layer(scale_width(192, alpha), activation="relu", name="fc2")(x)
    outputs = dense_layer(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)

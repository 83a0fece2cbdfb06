"""LeNet-family networks: LeNet-300-100, the Denil et al. MLP and LeNet-5.

All builders return functional `keras.Model`s whose output is **logits** (no
softmax): train them with
``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``.
"""

from collections.abc import Sequence

import keras

from tf_pe.models import _common
from tf_pe.models._common import LayerFactory
from tf_pe.models.scaling import check_depth_multiplier, scale_width

__all__ = ["lenet5", "lenet_300_100", "mlp"]

# Smallest height/width for LeNet-5: conv1 (same) -> pool 2 -> conv2 5x5 valid -> pool 2
# needs floor((floor(h / 2) - 4) / 2) >= 1, that is h >= 12.
_LENET5_MIN_SPATIAL = 12


def _dense_stack(
    input_shape: Sequence[int],
    num_classes: int,
    hidden: Sequence[int],
    depth_multiplier: float,
    conv_layer: LayerFactory | None,
    dense_layer: LayerFactory | None,
    name: str,
) -> keras.Model:
    """Builds Flatten -> Dense(h, relu) for h in ``hidden`` -> Dense(num_classes)."""
    shape = _common.check_input_shape(input_shape)
    num_classes = _common.check_num_classes(num_classes)
    alpha = check_depth_multiplier(depth_multiplier)
    _, dense_layer = _common.resolve_factories(conv_layer, dense_layer)
    if isinstance(hidden, str | bytes) or not isinstance(hidden, Sequence):
        raise ValueError(f"`hidden` must be a sequence of integers >= 1, got {hidden!r}.")
    widths = [_common.check_int(h, "hidden", 1) for h in hidden]

    inputs = keras.Input(shape=shape, name="input")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, width in enumerate(widths, start=1):
        x = dense_layer(scale_width(width, alpha), activation="relu", name=f"fc{i}")(x)
    outputs = dense_layer(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def lenet_300_100(
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    depth_multiplier: float = 1.0,
    conv_layer: LayerFactory | None = None,
    dense_layer: LayerFactory | None = None,
    name: str = "lenet_300_100",
) -> keras.Model:
    """Builds LeNet-300-100: Flatten, Dense 300 relu, Dense 100 relu, Dense logits.

    The fully connected network of LeCun et al. 1998, used as the MNIST benchmark
    of Han et al. 2015 and Mostafa & Wang 2019. With 784 inputs and 10 classes it
    has 266,610 parameters. Layers are named ``fc1``, ``fc2`` and ``logits``.

    Args:
        input_shape: Shape of one example, any rank; it is flattened. Defaults to
            ``(28, 28, 1)``.
        num_classes: Number of output logits, >= 2. Defaults to 10.
        depth_multiplier: Parameter fraction ``alpha`` > 0; each hidden width ``n``
            becomes `scale_width(n, alpha)`. Defaults to 1.0.
        conv_layer: Accepted for a uniform builder signature; unused (the network
            has no convolutions). Defaults to `None`.
        dense_layer: Factory with `keras.layers.Dense`'s signature used for every
            dense layer, always called with ``name=``. Defaults to `None`
            (`keras.layers.Dense`).
        name: Model name. Defaults to ``"lenet_300_100"``.

    Returns:
        An uncompiled functional `keras.Model` that outputs logits (no softmax).

    Raises:
        ValueError: If an argument is out of range (the message names it).
    """
    return _dense_stack(
        input_shape, num_classes, (300, 100), depth_multiplier, conv_layer, dense_layer, name
    )


def mlp(
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    depth_multiplier: float = 1.0,
    conv_layer: LayerFactory | None = None,
    dense_layer: LayerFactory | None = None,
    name: str = "mlp",
    *,
    hidden: Sequence[int] = (500, 500),
) -> keras.Model:
    """Builds a ReLU multilayer perceptron, by default 784-500-500-10.

    The MNIST network of Denil et al. 2013, "Predicting Parameters in Deep
    Learning" (648,010 parameters at 784 inputs and 10 classes). Layers are named
    ``fc1``, ``fc2``, ... and ``logits``.

    Args:
        input_shape: Shape of one example, any rank; it is flattened. Defaults to
            ``(28, 28, 1)``.
        num_classes: Number of output logits, >= 2. Defaults to 10.
        depth_multiplier: Parameter fraction ``alpha`` > 0; each hidden width ``n``
            becomes `scale_width(n, alpha)`. Defaults to 1.0.
        conv_layer: Accepted for a uniform builder signature; unused. Defaults to
            `None`.
        dense_layer: Factory with `keras.layers.Dense`'s signature used for every
            dense layer, always called with ``name=``. Defaults to `None`
            (`keras.layers.Dense`).
        name: Model name. Defaults to ``"mlp"``.
        hidden: Widths of the hidden ReLU layers, each an integer >= 1; empty gives
            a linear classifier. Defaults to ``(500, 500)``.

    Returns:
        An uncompiled functional `keras.Model` that outputs logits (no softmax).

    Raises:
        ValueError: If an argument is out of range (the message names it).
    """
    return _dense_stack(
        input_shape, num_classes, hidden, depth_multiplier, conv_layer, dense_layer, name
    )


def lenet5(
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    depth_multiplier: float = 1.0,
    conv_layer: LayerFactory | None = None,
    dense_layer: LayerFactory | None = None,
    name: str = "lenet5",
) -> keras.Model:
    """Builds a modern LeNet-5 (ReLU, max pooling) for 28x28 inputs.

    After LeCun et al. 1998: ``conv1`` 6 5x5 same relu, maxpool 2, ``conv2`` 16
    5x5 valid relu, maxpool 2, flatten, ``fc1`` 120 relu, ``fc2`` 84 relu,
    ``logits``. The "same" padding of ``conv1`` stands in for the 32x32 padded
    inputs of the original. At ``(28, 28, 1)`` and 10 classes it has 61,706
    parameters.

    Args:
        input_shape: ``(height, width, channels)``, height and width >= 12.
            Defaults to ``(28, 28, 1)``.
        num_classes: Number of output logits, >= 2. Defaults to 10.
        depth_multiplier: Parameter fraction ``alpha`` > 0; conv filters and hidden
            units ``n`` become `scale_width(n, alpha)`. Defaults to 1.0.
        conv_layer: Factory with `keras.layers.Conv2D`'s signature used for every
            convolution, always called with ``name=``. Defaults to `None`
            (`keras.layers.Conv2D`).
        dense_layer: Factory with `keras.layers.Dense`'s signature used for every
            dense layer, always called with ``name=``. Defaults to `None`
            (`keras.layers.Dense`).
        name: Model name. Defaults to ``"lenet5"``.

    Returns:
        An uncompiled functional `keras.Model` that outputs logits (no softmax).

    Raises:
        ValueError: If an argument is out of range (the message names it).
    """
    shape = _common.check_input_shape(input_shape, rank=3, min_spatial=_LENET5_MIN_SPATIAL)
    num_classes = _common.check_num_classes(num_classes)
    alpha = check_depth_multiplier(depth_multiplier)
    conv_layer, dense_layer = _common.resolve_factories(conv_layer, dense_layer)

    inputs = keras.Input(shape=shape, name="input")
    x = conv_layer(scale_width(6, alpha), 5, padding="same", activation="relu", name="conv1")(
        inputs
    )
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = conv_layer(scale_width(16, alpha), 5, padding="valid", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = dense_layer(scale_width(120, alpha), activation="relu", name="fc1")(x)
    x = dense_layer(scale_width(84, alpha), activation="relu", name="fc2")(x)
    outputs = dense_layer(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)

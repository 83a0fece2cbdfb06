"""VGG-16n: VGG-16 with its 4096-wide dense layers replaced (Changpinyo et al. 2017).

Changpinyo, Sandler, Zhmoginov 2017, sec. 5.2.3: VGG-16 (Simonyan & Zisserman 2015)
"removing the two fully-connected layers with depth 4096 and replacing them with a
2x2 maxpool layer followed by a 3x3 convolutional layer with the depth of 1024",
which gives about 7x fewer parameters at similar accuracy. Here every convolution is
followed by BatchNorm and ReLU, and the network ends with global average pooling
and a dense ``logits`` layer (no softmax).
"""

from collections.abc import Sequence

import keras

from tf_pe.models import _common
from tf_pe.models._common import LayerFactory
from tf_pe.models.scaling import check_depth_multiplier, scale_width

__all__ = ["VGG16_BLOCKS", "vgg16n"]

# Filters of the 13 convolutions of VGG-16, one tuple per block; each block ends in
# a 2x2 max pool.
VGG16_BLOCKS: tuple[tuple[int, ...], ...] = (
    (64, 64),
    (128, 128),
    (256, 256, 256),
    (512, 512, 512),
    (512, 512, 512),
)
_HEAD_FILTERS = 1024


def _conv_bn_relu(
    x: keras.KerasTensor,
    filters: int,
    name: str,
    conv_layer: LayerFactory,
    weight_decay: float,
) -> keras.KerasTensor:
    """A 3x3 'same' conv (no bias), BatchNorm and ReLU named ``name``, ``_bn``, ``_relu``."""
    x = conv_layer(
        filters,
        3,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
        **_common.regularizer_kwargs(weight_decay),
    )(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def vgg16n(
    input_shape: Sequence[int] = (32, 32, 3),
    num_classes: int = 10,
    depth_multiplier: float = 1.0,
    conv_layer: LayerFactory | None = None,
    dense_layer: LayerFactory | None = None,
    name: str = "vgg16n",
    *,
    weight_decay: float = 0.0,
) -> keras.Model:
    """Builds VGG-16n (Changpinyo et al. 2017, sec. 5.2.3).

    Blocks of 3x3 convolutions (64, 64 | 128, 128 | 256 x3 | 512 x3 | 512 x3), each
    conv followed by BatchNorm and ReLU and each block by a 2x2 stride-2 'same' max
    pool; then one more 2x2 'same' max pool, ``conv6`` 1024 3x3 + BatchNorm + ReLU
    (in place of VGG-16's two 4096-wide dense layers), global average pooling and
    ``logits``. The 'same' pools let 32x32 inputs through. Conv layers are named
    ``block{b}_conv{i}`` and ``conv6``.

    Args:
        input_shape: ``(height, width, channels)``. Defaults to ``(32, 32, 3)``.
        num_classes: Number of output logits, >= 2. Defaults to 10.
        depth_multiplier: Parameter fraction ``alpha`` > 0; every conv width ``n``
            becomes `scale_width(n, alpha)`. Defaults to 1.0.
        conv_layer: Factory with `keras.layers.Conv2D`'s signature used for every
            convolution (called with ``name=``, ``padding="same"``,
            ``use_bias=False``, ``kernel_initializer="he_normal"``). Defaults to
            `None` (`keras.layers.Conv2D`).
        dense_layer: Factory with `keras.layers.Dense`'s signature used for the
            ``logits`` layer. Defaults to `None` (`keras.layers.Dense`).
        name: Model name. Defaults to ``"vgg16n"``.
        weight_decay: L2 coefficient ``c`` (loss term ``c * sum(w ** 2)``) on every
            conv and dense kernel. Defaults to 0.0 (no regularizer).

    Returns:
        An uncompiled functional `keras.Model` that outputs logits (no softmax).

    Raises:
        ValueError: If an argument is out of range (the message names it).
    """
    shape = _common.check_input_shape(input_shape, rank=3)
    num_classes = _common.check_num_classes(num_classes)
    alpha = check_depth_multiplier(depth_multiplier)
    conv_layer, dense_layer = _common.resolve_factories(conv_layer, dense_layer)
    weight_decay = _common.check_weight_decay(weight_decay)

    inputs = keras.Input(shape=shape, name="input")
    x = inputs
    for b, block in enumerate(VGG16_BLOCKS, start=1):
        for i, filters in enumerate(block, start=1):
            x = _conv_bn_relu(
                x, scale_width(filters, alpha), f"block{b}_conv{i}", conv_layer, weight_decay
            )
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"block{b}_pool")(x)
    x = keras.layers.MaxPooling2D(2, padding="same", name="pool6")(x)
    x = _conv_bn_relu(x, scale_width(_HEAD_FILTERS, alpha), "conv6", conv_layer, weight_decay)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = dense_layer(num_classes, name="logits", **_common.regularizer_kwargs(weight_decay))(x)
    return keras.Model(inputs, outputs, name=name)

"""ResNet-50 v1.5 (He et al. 2016, "Deep Residual Learning for Image Recognition").

v1.5 is the variant of torchvision and the TensorFlow model garden: in a
down-sampling bottleneck the stride sits on the 3x3 convolution rather than on the
first 1x1. Convolutions have no bias (each is followed by BatchNorm), the stem is a
7x7 stride-2 conv and a 3x3 stride-2 max pool (explicitly zero-padded by 3 and 1
pixels as in the reference), shortcuts that change the shape are 1x1 projections
with BatchNorm, and the head is global average pooling and a dense ``logits`` layer
(no softmax).
"""

from collections.abc import Sequence

import keras

from tf_pe.models import _common
from tf_pe.models._common import LayerFactory
from tf_pe.models.scaling import check_depth_multiplier, scale_width

__all__ = ["RESNET50_STAGES", "resnet50"]

# (bottleneck width, number of blocks, stride of the first block) per stage.
RESNET50_STAGES: tuple[tuple[int, int, int], ...] = (
    (64, 3, 1),
    (128, 4, 2),
    (256, 6, 2),
    (512, 3, 2),
)
_EXPANSION = 4
_STEM_FILTERS = 64
# PyTorch's BatchNorm defaults, as in the reference implementation.
_BN_KWARGS = {"momentum": 0.9, "epsilon": 1e-5}


def _conv_bn(
    x: keras.KerasTensor,
    filters: int,
    kernel_size: int,
    strides: int,
    name: str,
    conv_layer: LayerFactory,
    weight_decay: float,
    *,
    padding: str = "same",
    relu: bool = True,
) -> keras.KerasTensor:
    """Conv (no bias) named ``name``, BatchNorm ``name_bn`` and optionally ReLU."""
    x = conv_layer(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
        **_common.regularizer_kwargs(weight_decay),
    )(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn", **_BN_KWARGS)(x)
    if relu:
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return x


def _bottleneck(
    x: keras.KerasTensor,
    width: int,
    out_filters: int,
    strides: int,
    prefix: str,
    conv_layer: LayerFactory,
    weight_decay: float,
) -> keras.KerasTensor:
    """1x1 (width) -> 3x3 stride (width) -> 1x1 (out_filters), plus the shortcut."""
    if strides != 1 or x.shape[-1] != out_filters:
        shortcut = _conv_bn(
            x, out_filters, 1, strides, f"{prefix}_shortcut", conv_layer, weight_decay, relu=False
        )
    else:
        shortcut = x
    y = _conv_bn(x, width, 1, 1, f"{prefix}_conv1", conv_layer, weight_decay)
    y = _conv_bn(y, width, 3, strides, f"{prefix}_conv2", conv_layer, weight_decay)
    y = _conv_bn(y, out_filters, 1, 1, f"{prefix}_conv3", conv_layer, weight_decay, relu=False)
    y = keras.layers.Add(name=f"{prefix}_add")([shortcut, y])
    return keras.layers.ReLU(name=f"{prefix}_out")(y)


def resnet50(
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    depth_multiplier: float = 1.0,
    conv_layer: LayerFactory | None = None,
    dense_layer: LayerFactory | None = None,
    name: str = "resnet50",
    *,
    weight_decay: float = 0.0,
) -> keras.Model:
    """Builds ResNet-50 v1.5 (He et al. 2016; stride on the 3x3 convolution).

    Stem ``conv1`` 64 7x7 stride 2, then stages of [3, 4, 6, 3] bottleneck blocks
    with widths 64, 128, 256, 512 and 4x expansion. At the defaults it has
    25,557,032 trainable parameters, the count of torchvision's ``resnet50``;
    `count_params` adds 53,120 BatchNorm moving statistics. (`keras.applications`'
    ResNet50 has 26,560 more because its convolutions carry biases.) Conv layers are
    named ``conv1``, ``stage{s}_block{b}_conv{1,2,3}`` and
    ``stage{s}_block{b}_shortcut``.

    Args:
        input_shape: ``(height, width, channels)``. Defaults to ``(224, 224, 3)``.
        num_classes: Number of output logits, >= 2. Defaults to 1000.
        depth_multiplier: Parameter fraction ``alpha`` > 0; every conv width ``n``
            (stem, bottleneck widths and expanded outputs) becomes
            `scale_width(n, alpha)`. Defaults to 1.0.
        conv_layer: Factory with `keras.layers.Conv2D`'s signature used for every
            convolution (called with ``name=``, ``strides=``, ``padding=``,
            ``use_bias=False``, ``kernel_initializer="he_normal"``). Defaults to
            `None` (`keras.layers.Conv2D`).
        dense_layer: Factory with `keras.layers.Dense`'s signature used for the
            ``logits`` layer. Defaults to `None` (`keras.layers.Dense`).
        name: Model name. Defaults to ``"resnet50"``.
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
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = _conv_bn(
        x,
        scale_width(_STEM_FILTERS, alpha),
        7,
        2,
        "conv1",
        conv_layer,
        weight_decay,
        padding="valid",
    )
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, (width, blocks, strides) in enumerate(RESNET50_STAGES, start=1):
        scaled_width = scale_width(width, alpha)
        out_filters = scale_width(width * _EXPANSION, alpha)
        for block in range(1, blocks + 1):
            x = _bottleneck(
                x,
                scaled_width,
                out_filters,
                strides if block == 1 else 1,
                f"stage{stage}_block{block}",
                conv_layer,
                weight_decay,
            )
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = dense_layer(num_classes, name="logits", **_common.regularizer_kwargs(weight_decay))(x)
    return keras.Model(inputs, outputs, name=name)

"""Wide residual networks (Zagoruyko & Komodakis 2016, "Wide Residual Networks").

WRN-d-k: a 3x3 convolution with 16 filters, then three groups of ``(d - 4) / 6``
pre-activation basic blocks (BN-ReLU-conv3x3-BN-ReLU-[dropout]-conv3x3) with
``16k``, ``32k`` and ``64k`` filters and strides 1, 2, 2, then BN-ReLU, global
average pooling and a dense ``logits`` layer (no softmax). When a block changes the
shape, its shortcut is a 1x1 convolution (no bias) of the pre-activated input, as
in the authors' code; otherwise it is the identity.
"""

from collections.abc import Sequence

import keras

from tf_pe.models import _common
from tf_pe.models._common import LayerFactory
from tf_pe.models.scaling import check_depth_multiplier, scale_width

__all__ = ["wrn"]

# PyTorch's BatchNorm defaults, as in the reference implementation.
_BN_KWARGS = {"momentum": 0.9, "epsilon": 1e-5}


def _basic_block(
    x: keras.KerasTensor,
    filters: int,
    strides: int,
    prefix: str,
    conv_layer: LayerFactory,
    dropout: float,
    weight_decay: float,
) -> keras.KerasTensor:
    """One pre-activation basic block; layer names start with ``prefix``."""

    def conv(filters_: int, kernel_size: int, strides_: int, name: str) -> keras.layers.Layer:
        return conv_layer(
            filters_,
            kernel_size,
            strides=strides_,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
            name=name,
            **_common.regularizer_kwargs(weight_decay),
        )

    preact = keras.layers.BatchNormalization(name=f"{prefix}_bn1", **_BN_KWARGS)(x)
    preact = keras.layers.ReLU(name=f"{prefix}_relu1")(preact)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = conv(filters, 1, strides, f"{prefix}_shortcut")(preact)
    else:
        shortcut = x
    y = conv(filters, 3, strides, f"{prefix}_conv1")(preact)
    y = keras.layers.BatchNormalization(name=f"{prefix}_bn2", **_BN_KWARGS)(y)
    y = keras.layers.ReLU(name=f"{prefix}_relu2")(y)
    if dropout > 0:
        y = keras.layers.Dropout(dropout, name=f"{prefix}_dropout")(y)
    y = conv(filters, 3, 1, f"{prefix}_conv2")(y)
    return keras.layers.Add(name=f"{prefix}_add")([shortcut, y])


def wrn(
    input_shape: Sequence[int] = (32, 32, 3),
    num_classes: int = 10,
    depth_multiplier: float = 1.0,
    conv_layer: LayerFactory | None = None,
    dense_layer: LayerFactory | None = None,
    name: str | None = None,
    *,
    depth: int = 28,
    width: int = 2,
    dropout: float = 0.0,
    weight_decay: float = 0.0,
) -> keras.Model:
    """Builds a wide residual network WRN-``depth``-``width``.

    Zagoruyko & Komodakis 2016. WRN-28-2 has 1,467,610 trainable parameters at
    ``(32, 32, 3)`` and 10 classes (the paper's table says 1.5M); `count_params`
    also counts the BatchNorm moving statistics. Layer names: ``conv1``,
    ``group{g}_block{b}_conv{1,2}``, ``group{g}_block{b}_shortcut``, ``logits``.

    Args:
        input_shape: ``(height, width, channels)``. Defaults to ``(32, 32, 3)``.
        num_classes: Number of output logits, >= 2. Defaults to 10.
        depth_multiplier: Parameter fraction ``alpha`` > 0; every conv width ``n``
            (including the first conv's 16) becomes `scale_width(n, alpha)`.
            Defaults to 1.0.
        conv_layer: Factory with `keras.layers.Conv2D`'s signature used for every
            convolution (called with ``name=``, ``strides=``, ``padding="same"``,
            ``use_bias=False``, ``kernel_initializer="he_normal"`` and, when
            ``weight_decay > 0``, ``kernel_regularizer=``). Defaults to `None`
            (`keras.layers.Conv2D`).
        dense_layer: Factory with `keras.layers.Dense`'s signature used for the
            ``logits`` layer. Defaults to `None` (`keras.layers.Dense`).
        name: Model name, or `None` for ``"wrn_{depth}_{width}"``. Defaults to `None`.
        depth: Total depth ``d``, with ``(d - 4) % 6 == 0`` and ``d >= 10``.
            Defaults to 28.
        width: Widening factor ``k``, an integer >= 1. Defaults to 2.
        dropout: Dropout rate in ``[0, 1)`` between the two convolutions of each
            block (the paper uses 0.3 on CIFAR). Defaults to 0.0 (no dropout layer).
        weight_decay: L2 coefficient ``c`` added to the loss as ``c * sum(w ** 2)``
            for every conv and dense kernel. SGD weight decay ``wd`` (the paper's
            5e-4) corresponds to ``c = wd / 2``. Defaults to 0.0 (no regularizer).

    Returns:
        An uncompiled functional `keras.Model` that outputs logits (no softmax).

    Raises:
        ValueError: If an argument is out of range (the message names it), in
            particular if ``(depth - 4) % 6 != 0``.
    """
    shape = _common.check_input_shape(input_shape, rank=3)
    num_classes = _common.check_num_classes(num_classes)
    alpha = check_depth_multiplier(depth_multiplier)
    conv_layer, dense_layer = _common.resolve_factories(conv_layer, dense_layer)
    depth = _common.check_int(depth, "depth", 10)
    if (depth - 4) % 6 != 0:
        raise ValueError(f"`depth` must satisfy (depth - 4) % 6 == 0, e.g. 16 or 28; got {depth}.")
    width = _common.check_int(width, "width", 1)
    dropout = _common.check_fraction(dropout, "dropout")
    weight_decay = _common.check_weight_decay(weight_decay)
    if name is None:
        name = f"wrn_{depth}_{width}"
    blocks_per_group = (depth - 4) // 6

    inputs = keras.Input(shape=shape, name="input")
    x = conv_layer(
        scale_width(16, alpha),
        3,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name="conv1",
        **_common.regularizer_kwargs(weight_decay),
    )(inputs)
    for group, (base, strides) in enumerate(((16, 1), (32, 2), (64, 2)), start=1):
        filters = scale_width(base * width, alpha)
        for block in range(1, blocks_per_group + 1):
            x = _basic_block(
                x,
                filters,
                strides if block == 1 else 1,
                f"group{group}_block{block}",
                conv_layer,
                dropout,
                weight_decay,
            )
    x = keras.layers.BatchNormalization(name="final_bn", **_BN_KWARGS)(x)
    x = keras.layers.ReLU(name="final_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = dense_layer(num_classes, name="logits", **_common.regularizer_kwargs(weight_decay))(x)
    return keras.Model(inputs, outputs, name=name)

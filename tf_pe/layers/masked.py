"""Masked Keras layers: elementwise sparse `Dense`, `Conv2D` and `DepthwiseConv2D`.

Each layer keeps a non-trainable mask `M` with its kernel's shape and computes
with the effective kernel `W * M` (the parameterization of Mostafa & Wang, ICML
2019, "Parameter Efficient Training of Deep Convolutional Neural Networks by
Dynamic Sparse Reparameterization"). The gradient of a masked entry is exactly
zero, and the layer stores masked entries as zeros, so SGD with momentum, Adam
and decoupled weight decay all leave them at zero. Biases stay dense.

The mask starts with exactly `round(density * size)` ones (at least one) at
positions drawn from `seed`; with `granularity="channel"` a convolution mask
switches whole kernel slices `[:, :, i, o]` on and off. Callbacks such as
`tf_pe.callbacks.DynamicSparseReparam` move the ones; each layer also keeps the
bookkeeping variables they need (`threshold`, `seed`), which are not parameters.
"""

from __future__ import annotations

import math
import random

import keras
import numpy as np

from tf_pe.layers.saving import SavesAllVariables
from tf_pe.sparsity.patterns import check_density

GRANULARITIES = ("weight", "channel")
_UNSET_THRESHOLD = -1.0


def mask_units(shape: tuple[int, ...], granularity: str) -> tuple[int, int]:
    """Returns `(group, units)`: a mask of `shape` is `units` independent switches,
    each covering `group` entries (1 for weights, the spatial size for channels).

    With `"channel"` granularity the last two dimensions index the units (input
    and output channels of a convolution kernel, or a Dense kernel's entries).
    """
    shape = tuple(int(d) for d in shape)
    if granularity == "weight" or len(shape) < 3:
        return 1, math.prod(shape)
    return math.prod(shape[:-2]), shape[-2] * shape[-1]


def random_mask(shape: tuple[int, ...], density: float, seed: int,
                granularity: str = "weight") -> np.ndarray:
    """Returns a float32 0/1 mask with `max(1, round(density * units))` active units.

    Args:
        shape: the kernel's shape.
        density: fraction of active units, in (0, 1].
        seed: seeds the choice of positions.
        granularity: `"weight"` or `"channel"` (see `mask_units`). Defaults to
            `"weight"`.

    Returns:
        The mask, shaped like the kernel.
    """
    group, units = mask_units(shape, granularity)
    active = min(units, max(1, round(density * units)))
    flat = np.zeros(units, np.float32)
    flat[np.random.default_rng(seed).choice(units, size=active, replace=False)] = 1.0
    return np.broadcast_to(flat, (group, units)).reshape(shape).copy()


class _MaskMixin(SavesAllVariables):
    """The mask, the bookkeeping variables and the `SparseLayer` protocol."""

    def _init_mask_args(self, density, seed, granularity):
        self.density = check_density(density)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"`seed` must be an integer or None, got {seed!r}.")
        if granularity not in GRANULARITIES:
            raise ValueError(
                f"`granularity` must be one of {', '.join(GRANULARITIES)}; got {granularity!r}.")
        self.seed = seed
        self.granularity = granularity

    def _build_mask(self):
        seed = self.seed if self.seed is not None else random.randrange(2**31)
        value = random_mask(tuple(self.kernel.shape), self.density, seed, self.granularity)
        self.mask = self.add_weight(name="mask", shape=self.kernel.shape, trainable=False,
                                    initializer=keras.initializers.Constant(value),
                                    autocast=True)
        # Bookkeeping of the reparameterization callbacks (kept here so that
        # `.keras` files and checkpoints carry them): the global threshold H of
        # DSR and the seed of random regrowth.
        self.threshold = self.add_weight(
            name="threshold", shape=(), trainable=False, autocast=False,
            initializer=keras.initializers.Constant(_UNSET_THRESHOLD))
        self.mask_seed = self.add_weight(name="mask_seed", shape=(), dtype="int64",
                                         trainable=False, autocast=False,
                                         initializer=keras.initializers.Constant(seed))
        self.apply_mask()

    def apply_mask(self) -> None:
        """Sets the stored kernel to zero where the mask is zero."""
        self.kernel.assign(self.kernel * keras.ops.cast(self.mask, self.kernel.dtype))

    def sparse_weights(self):
        """Returns `[(kernel, mask)]` (the `SparseLayer` protocol)."""
        return [(self.kernel, self.mask)]

    def non_parameter_weights(self):
        """Returns the bookkeeping variables `[threshold, mask_seed]`."""
        return [self.threshold, self.mask_seed]

    def _mask_config(self):
        return {"density": self.density, "seed": self.seed, "granularity": self.granularity}


@keras.saving.register_keras_serializable(package="tf_pe")
class MaskedDense(_MaskMixin, keras.layers.Dense):
    """`keras.layers.Dense` with an elementwise mask: `y = act(x (W * M) + b)`.

    Args:
        units: output dimension.
        density: fraction of active kernel entries at initialization, in (0, 1].
            Defaults to 0.1.
        seed: seeds the initial mask and random regrowth; None draws one.
            Defaults to None.
        granularity: `"weight"` or `"channel"`; the same for a Dense kernel.
            Defaults to `"weight"`.
        **kwargs: the other arguments of `keras.layers.Dense`.

    Raises:
        ValueError: for a density outside (0, 1], a non-integer seed or an
            unknown granularity.
    """

    def __init__(self, units, density=0.1, seed=None, granularity="weight", **kwargs):
        super().__init__(units, **kwargs)
        self._init_mask_args(density, seed, granularity)

    def build(self, input_shape):
        super().build(input_shape)
        self._build_mask()

    def call(self, inputs, training=None):
        x = keras.ops.matmul(inputs, self.kernel * self.mask)
        if self.bias is not None:
            x = keras.ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x

    def get_config(self):
        return {**super().get_config(), **self._mask_config()}


@keras.saving.register_keras_serializable(package="tf_pe")
class MaskedConv2D(_MaskMixin, keras.layers.Conv2D):
    """`keras.layers.Conv2D` with a mask: `y = act(conv(x, W * M) + b)`.

    Args:
        filters: output channels.
        kernel_size: an int or a pair.
        density: fraction of active kernel entries (or kernel slices) at
            initialization, in (0, 1]. Defaults to 0.1.
        seed: seeds the initial mask and random regrowth; None draws one.
            Defaults to None.
        granularity: `"weight"` (single entries) or `"channel"` (whole `kh x kw`
            slices per input/output channel pair, the channel-sparse structure).
            Defaults to `"weight"`.
        **kwargs: the other arguments of `keras.layers.Conv2D`.

    Raises:
        ValueError: for a density outside (0, 1], a non-integer seed or an
            unknown granularity.
    """

    def __init__(self, filters, kernel_size, density=0.1, seed=None, granularity="weight",
                 **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self._init_mask_args(density, seed, granularity)

    def build(self, input_shape):
        super().build(input_shape)
        self._build_mask()

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, kernel * self.mask)

    def get_config(self):
        return {**super().get_config(), **self._mask_config()}


@keras.saving.register_keras_serializable(package="tf_pe")
class MaskedDepthwiseConv2D(_MaskMixin, keras.layers.DepthwiseConv2D):
    """`keras.layers.DepthwiseConv2D` with a mask over its `[kh, kw, in, mult]` kernel.

    Args:
        kernel_size: an int or a pair.
        density: fraction of active kernel entries (or `kh x kw` slices) at
            initialization, in (0, 1]. Defaults to 0.1.
        seed: seeds the initial mask and random regrowth; None draws one.
            Defaults to None.
        granularity: `"weight"` or `"channel"`. Defaults to `"weight"`.
        **kwargs: the other arguments of `keras.layers.DepthwiseConv2D`.

    Raises:
        ValueError: for a density outside (0, 1], a non-integer seed or an
            unknown granularity.
    """

    def __init__(self, kernel_size, density=0.1, seed=None, granularity="weight", **kwargs):
        super().__init__(kernel_size, **kwargs)
        self._init_mask_args(density, seed, granularity)

    def build(self, input_shape):
        super().build(input_shape)
        self._build_mask()

    def call(self, inputs):
        outputs = keras.ops.depthwise_conv(
            inputs, self.kernel * self.mask, strides=self.strides, padding=self.padding,
            dilation_rate=self.dilation_rate, data_format=self.data_format)
        if self.use_bias:
            channels = outputs.shape[-1 if self.data_format == "channels_last" else 1]
            if self.data_format == "channels_last":
                shape = (1,) * (self.rank + 1) + (channels,)
            else:
                shape = (1, channels) + (1,) * self.rank
            outputs = keras.ops.add(outputs, keras.ops.reshape(self.bias, shape))
        if self.activation is not None:
            return self.activation(outputs)
        return outputs

    def get_config(self):
        return {**super().get_config(), **self._mask_config()}


MASKED_LAYERS = (MaskedDense, MaskedConv2D, MaskedDepthwiseConv2D)

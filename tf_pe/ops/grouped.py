"""Channel sparsity with a shared input set per group of outputs, as a grouped
convolution on gathered channels.

When the output channels of a connection mask fall into `G` groups whose members
see the same `k` input channels (the `"block"` pattern of
`tf_pe.sparsity.patterns`), the masked convolution equals

    y = gather(conv2d(gather(x, I), W_g, groups=G), O)

with `I` the `G * k` input channels of the groups in order, `W_g [kh, kw, k, G * m]`
the active kernel entries of each group (zero columns pad groups with fewer than
`m` outputs) and `O` the position of every output channel among the `G * m`. The
grouped convolution is TensorFlow's own `tf.nn.conv2d` (oneDNN on CPU), so the
work is the active connections' (plus the zero padding), done by a tuned library;
the gathers are `tf_pe.ops.gather_channels` (a copy each, skipped when `I` or `O`
is the identity). Gradients reach only the active kernel entries.

TensorFlow differentiates a grouped convolution on the CPU only through oneDNN
(not with `TF_ENABLE_ONEDNN_OPTS=0`, and not in float64): `supported(dtype)`
tells whether this path can train here (float32, and bfloat16 for the
`mixed_bfloat16` policy).

`hybrid_conv2d` computes the same convolution forward with the C++ op
(`TfPe>SparseChannelConv2D`, faster forward on wide layers) and differentiates it
as the grouped convolution (faster backward): the gradients are the grouped
convolution's backprop ops on the gathered channels, without a grouped forward.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tf_pe.ops.channel_gather import gather_channels, scatter_add_channels
from tf_pe.ops.sparse_channel_conv import (
    CompactStructure,
    compact_conv2d,
    conv_attrs,
    tap_entries,
)


@dataclasses.dataclass(frozen=True)
class GroupedStructure:
    """The grouped form of a connection mask (see the module docstring).

    Attributes:
        groups: `G`, the number of groups.
        group_inputs: `k`, the input channels of every group.
        group_outputs: `m`, the output slots of every group (the largest group).
        input_index: int32 `[G * k]`, the input channel of each gathered channel;
            None when it is `0, 1, ..., in - 1`.
        kernel_index: int32 `[k * G * m]`, for each entry of one tap of `W_g`, its
            position `i * out + o` in one tap of the dense kernel; -1 for padding.
        output_index: int32 `[out]`, the grouped output slot of each output channel;
            None when it is `0, 1, ..., out - 1`.
        mask: the `[in, out]` mask this structure was derived from.
    """

    groups: int
    group_inputs: int
    group_outputs: int
    input_index: np.ndarray | None
    kernel_index: np.ndarray
    output_index: np.ndarray | None
    mask: np.ndarray

    @property
    def computed_fraction(self) -> float:
        """Connections the grouped convolution computes (padding included) over
        the active ones: 1.0 when every group has `m` outputs."""
        return self.groups * self.group_inputs * self.group_outputs / max(
            1, int(np.count_nonzero(self.mask)))


DTYPES = ("float32", "bfloat16")


def supported(dtype) -> bool:
    """Whether the grouped convolution of `dtype` can be differentiated here, fast:
    float32 or bfloat16 with TensorFlow's oneDNN kernels enabled (the CPU kernels
    without oneDNN, and float64, raise "Gradients for grouped convolutions are not
    supported on CPU"; float16 works but TensorFlow's CPU float16 convolutions are
    emulated, 20 s for one 14x14 256-channel step here)."""
    if tf.as_dtype(dtype).name not in DTYPES:
        return False
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return False
    return bool(_pywrap_util_port.IsMklEnabled())


def grouped_structure(mask) -> GroupedStructure | None:
    """The grouped form of `mask`, or None when its groups do not all see the same
    number of inputs (or an output sees none).

    Output channels with identical input sets form a group, in the order of their
    first output channel; within a group the outputs and the inputs are ascending.

    Args:
        mask: `[in, out]`, nonzero = active.

    Raises:
        ValueError: naming `mask` when it is not 2-D.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"`mask` must be 2-D [in, out], got shape {mask.shape}.")
    in_channels, out_channels = mask.shape
    active = mask != 0
    groups: dict[bytes, list[int]] = {}
    inputs: dict[bytes, np.ndarray] = {}
    for o in range(out_channels):
        key = np.packbits(active[:, o]).tobytes()
        if key not in groups:
            groups[key] = []
            inputs[key] = np.flatnonzero(active[:, o]).astype(np.int32)
        groups[key].append(o)
    sizes = {len(channels) for channels in inputs.values()}
    if len(sizes) != 1 or 0 in sizes:
        return None
    k = sizes.pop()
    n_groups = len(groups)
    m = max(len(outputs) for outputs in groups.values())
    input_index = np.concatenate(list(inputs.values())).astype(np.int32)
    kernel_index = np.full((k, n_groups, m), -1, np.int64)
    output_index = np.empty(out_channels, np.int32)
    for t, key in enumerate(groups):
        outputs = np.asarray(groups[key])
        kernel_index[:, t, :len(outputs)] = inputs[key][:, None] * out_channels + outputs[None, :]
        output_index[outputs] = t * m + np.arange(len(outputs))
    if kernel_index.max() >= np.iinfo(np.int32).max:
        return None
    identity_in = np.array_equal(input_index, np.arange(in_channels))
    identity_out = n_groups * m == out_channels and np.array_equal(
        output_index, np.arange(out_channels))
    return GroupedStructure(
        groups=n_groups, group_inputs=k, group_outputs=m,
        input_index=None if identity_in else input_index,
        kernel_index=kernel_index.reshape(-1).astype(np.int32),
        output_index=None if identity_out else output_index,
        mask=mask.copy())


def grouped_conv2d(inputs, kernel, structure: GroupedStructure, strides=(1, 1),
                   padding="SAME", dilations=(1, 1)):
    """The convolution of `inputs` with `kernel * structure.mask`, computed as a
    grouped convolution on gathered channels (NHWC).

    Args:
        inputs: `[batch, rows, cols, in]`; float32 or bfloat16 to be differentiable
            on the CPU (see `supported`).
        kernel: the dense kernel `[kh, kw, in, out]`; only the entries active in
            `structure.mask` are read (and receive gradients).
        structure: from `grouped_structure(mask)`.
        strides: an int or two ints. Defaults to `(1, 1)`.
        padding: `"SAME"` or `"VALID"`. Defaults to `"SAME"`.
        dilations: an int or two ints. Defaults to `(1, 1)`.

    Returns:
        `[batch, out_rows, out_cols, out]`.

    Raises:
        TypeError: naming `structure` when it is not a `GroupedStructure`.
        ValueError: naming `kernel` when its last two axes are not the mask's shape,
            or `strides`, `padding` or `dilations`.
    """
    kernel, strides, padding, dilations = _checked(structure, kernel, strides, padding,
                                                   dilations)
    x = inputs
    if structure.input_index is not None:
        x = gather_channels(x, structure.input_index)
    y = tf.nn.conv2d(x, _grouped_kernel(kernel, structure), strides=strides, padding=padding,
                     dilations=dilations)
    if structure.output_index is not None:
        y = gather_channels(y, structure.output_index)
    return y


def hybrid_conv2d(inputs, kernel, structure: GroupedStructure, compact: CompactStructure,
                  strides=(1, 1), padding="SAME", dilations=(1, 1)):
    """The convolution of `inputs` with `kernel * structure.mask` (NHWC): forward by
    the C++ op (`compact_conv2d`), gradients by the grouped convolution's backprop
    ops, with `xg = gather(x, I)`, `Wg` as in `grouped_conv2d` and
    `dyg = dy` in the grouped output order (zeros in padding slots):

        dx = scatter_add(Conv2DBackpropInput(Wg, dyg), I)
        dW = scatter(Conv2DBackpropFilter(xg, dyg))   (active entries only)

    Differentiable where `supported(inputs.dtype)` holds and float32 (the op has no
    bfloat16 kernels).

    Args:
        inputs: `[batch, rows, cols, in]`, float32.
        kernel: the dense kernel `[kh, kw, in, out]`.
        structure: `grouped_structure(mask)`.
        compact: `compact_structure(mask)` of the same mask.
        strides, padding, dilations: as for `grouped_conv2d`.

    Returns:
        `[batch, out_rows, out_cols, out]`.

    Raises:
        TypeError: naming `structure` or `compact` when of the wrong type.
        ValueError: naming `compact` when its mask is not `structure`'s, or `kernel`,
            `strides`, `padding` or `dilations`.
    """
    kernel, strides, padding, dilations = _checked(structure, kernel, strides, padding,
                                                   dilations)
    if not isinstance(compact, CompactStructure):
        raise TypeError(f"`compact` must be a CompactStructure (from compact_structure), "
                        f"got {type(compact).__name__}.")
    if not np.array_equal(compact.mask != 0, structure.mask != 0):
        raise ValueError("`compact` must come from the mask of `structure`.")
    kh, kw = int(kernel.shape[0]), int(kernel.shape[1])
    in_channels, out_channels = structure.mask.shape
    slots = structure.groups * structure.group_outputs
    slot_source = None
    if structure.output_index is not None:
        slot_source = np.full(slots, -1, np.int32)
        slot_source[structure.output_index] = np.arange(out_channels, dtype=np.int32)
    attrs = {"strides": [1, *strides, 1], "padding": padding,
             "dilations": [1, *dilations, 1]}

    @tf.custom_gradient
    def conv(x, w):
        def grad(dy):
            xg = x if structure.input_index is None else gather_channels(
                x, structure.input_index)
            wg = _grouped_kernel(w, structure)
            dyg = dy if slot_source is None else gather_channels(dy, slot_source)
            dxg = tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(xg), filter=wg,
                                                 out_backprop=dyg, **attrs)
            dwg = tf.raw_ops.Conv2DBackpropFilter(input=xg, filter_sizes=tf.shape(wg),
                                                  out_backprop=dyg, **attrs)
            dx = dxg if structure.input_index is None else scatter_add_channels(
                dxg, structure.input_index, in_channels)
            dw = scatter_add_channels(tf.reshape(dwg, [kh * kw, -1]), structure.kernel_index,
                                      in_channels * out_channels)
            return dx, tf.reshape(dw, tf.shape(w))

        return compact_conv2d(x, w, compact, strides, padding, dilations), grad

    return conv(inputs, kernel)


def _checked(structure, kernel, strides, padding, dilations):
    """The validated `(kernel, strides, padding, dilations)` of a convolution on
    `structure` (the errors the public functions document)."""
    if not isinstance(structure, GroupedStructure):
        raise TypeError(f"`structure` must be a GroupedStructure (from grouped_structure), "
                        f"got {type(structure).__name__}.")
    strides, padding, dilations = conv_attrs(_pair(strides), padding, _pair(dilations))
    kernel = tf.convert_to_tensor(kernel)
    if tuple(kernel.shape[2:]) != structure.mask.shape:
        raise ValueError(f"`kernel` must have [in, out] = {structure.mask.shape} as its "
                         f"last axes, got shape {kernel.shape}.")
    return kernel, strides, padding, dilations


def _grouped_kernel(kernel, structure):
    """`W_g [kh, kw, k, G * m]`: the active entries of the dense kernel per group."""
    return tf.reshape(tap_entries(kernel, structure.kernel_index),
                      [int(kernel.shape[0]), int(kernel.shape[1]), structure.group_inputs,
                       structure.groups * structure.group_outputs])


def _pair(value):
    return (value, value) if isinstance(value, int | np.integer) else value

"""`sparse_channel_conv2d`: the channel-sparse convolution on a compact structure.

Compact connection structure (CSR over output channels, see
`cc/sparse_channel_conv2d.h`): `indptr` int32 `[filters + 1]`, `indices` int32
`[nnz]` (the input channel of each connection, strictly increasing within an output
channel) and the compact kernel `[kh, kw, nnz]`. `compact_from_mask(kernel, mask)`
builds it inside the graph from a dense kernel `[kh, kw, in, filters]` and a 0/1
mask `[in, filters]`; gradients flow back to the dense kernel through a gather, so
inactive entries get exactly zero gradient. `compact_structure(mask)` computes the
index part once, in NumPy, for a mask known when the graph is traced, and
`compact_conv2d` then only gathers the kernel's active entries per call.

The op runs the C++ kernel when the library is loaded, else `reference`, a masked
`tf.nn.conv2d` (the same math, computed densely).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tf_pe.ops import loader
from tf_pe.ops.channel_gather import gather_channels

OP_NAME = "TfPe>SparseChannelConv2D"


def conv_attrs(strides, padding, dilations):
    """`(strides, padding, dilations)` as two ints, "SAME"/"VALID", two ints.

    Raises:
        ValueError: naming `strides`, `dilations` or `padding`.
    """
    strides = [int(s) for s in strides]
    dilations = [int(d) for d in dilations]
    if len(strides) != 2 or len(dilations) != 2:
        raise ValueError(f"`strides` and `dilations` must have 2 elements, got {strides}, "
                         f"{dilations}.")
    padding = padding.upper()
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"`padding` must be 'SAME' or 'VALID', got {padding!r}.")
    return strides, padding, dilations


def compact_from_mask(kernel, mask):
    """Returns `(compact_kernel [kh, kw, nnz], indptr, indices)` from a dense kernel
    `[kh, kw, in, filters]` and a mask `[in, filters]` (nonzero = active).

    Raises:
        ValueError: naming `kernel` or `mask` when their shapes do not fit.
    """
    kernel = tf.convert_to_tensor(kernel)
    mask = tf.convert_to_tensor(mask)
    if kernel.shape.rank != 4:
        raise ValueError(f"`kernel` must be 4-D [kh, kw, in, filters], got shape {kernel.shape}.")
    if not mask.shape.is_compatible_with(kernel.shape[2:]):
        raise ValueError(f"`mask` must have the shape [in, filters] = {kernel.shape[2:]} of "
                         f"the kernel, got {mask.shape}.")
    active = tf.transpose(tf.not_equal(mask, 0))  # [filters, in]
    where = tf.where(active)  # row-major: by output, then increasing input
    counts = tf.reduce_sum(tf.cast(active, tf.int32), axis=1)
    indptr = tf.concat([tf.zeros([1], tf.int32), tf.cumsum(counts)], axis=0)
    indices = tf.cast(where[:, 1], tf.int32)
    shape = tf.shape(kernel, out_type=tf.int32)
    positions = tf.cast(where[:, 1] * tf.cast(shape[3], tf.int64) + where[:, 0], tf.int32)
    slices = tap_entries(kernel, positions)  # [kh * kw, nnz]
    return tf.reshape(slices, tf.concat([shape[:2], [-1]], axis=0)), indptr, indices


@dataclasses.dataclass(frozen=True)
class CompactStructure:
    """The index part of the compact form of a mask (what `compact_from_mask`
    computes in the graph), for a mask known in advance.

    Attributes:
        indptr: int32 `[filters + 1]`.
        indices: int32 `[nnz]`, the input channel of each connection.
        positions: int32 `[nnz]`, `i * filters + o` of each connection `(i, o)`: its
            place in one tap of the dense kernel (`tap_entries`).
        mask: the `[in, filters]` mask it was derived from.
    """

    indptr: np.ndarray
    indices: np.ndarray
    positions: np.ndarray
    mask: np.ndarray


def compact_structure(mask) -> CompactStructure:
    """The `CompactStructure` of a mask `[in, filters]` (nonzero = active): the same
    indices as `compact_from_mask`, connections ordered by output, then input.

    Raises:
        ValueError: naming `mask` when it is not 2-D or too large for int32 positions.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"`mask` must be 2-D [in, filters], got shape {mask.shape}.")
    if mask.size >= np.iinfo(np.int32).max:
        raise ValueError(f"`mask` of shape {mask.shape} has too many entries for int32 "
                         f"positions.")
    outputs, inputs = np.nonzero(mask.T != 0)  # row-major: by output, then input
    counts = np.bincount(outputs, minlength=mask.shape[1])
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    positions = (inputs * mask.shape[1] + outputs).astype(np.int32)
    return CompactStructure(indptr=indptr, indices=inputs.astype(np.int32),
                            positions=positions, mask=mask.copy())


def compact_conv2d(inputs, kernel, structure: CompactStructure, strides=(1, 1),
                   padding="SAME", dilations=(1, 1)):
    """`sparse_channel_conv2d` of `inputs` with the active entries of the dense
    `kernel` `[kh, kw, in, filters]` under `structure.mask`: one gather of those
    entries per call, the indices from `structure` (gradients reach only them).

    Raises:
        TypeError: naming `structure` when it is not a `CompactStructure`.
        ValueError: naming `kernel` when its last two axes are not the mask's shape.
    """
    if not isinstance(structure, CompactStructure):
        raise TypeError(f"`structure` must be a CompactStructure (from compact_structure), "
                        f"got {type(structure).__name__}.")
    kernel = tf.convert_to_tensor(kernel)
    if tuple(kernel.shape[2:]) != structure.mask.shape:
        raise ValueError(f"`kernel` must have [in, filters] = {structure.mask.shape} as its "
                         f"last axes, got shape {kernel.shape}.")
    compact = tf.reshape(tap_entries(kernel, structure.positions),
                         [kernel.shape[0], kernel.shape[1], len(structure.positions)])
    return sparse_channel_conv2d(inputs, compact, structure.indptr, structure.indices,
                                 strides, padding, dilations)


def tap_entries(kernel, positions):
    """`[kh * kw, len(positions)]`: the entries at `positions` (`i * out + o`, -1 for
    a zero) of every tap of the kernel `[kh, kw, in, out]`, gathered straight from
    the kernel seen as `[kh * kw, in * out]`: no transpose of the dense kernel, and
    the gradient is one scatter into it (`gather_channels`' gradient)."""
    shape = tf.shape(kernel, out_type=tf.int32)
    taps = tf.reshape(kernel, tf.stack([shape[0] * shape[1], shape[2] * shape[3]]))
    return gather_channels(taps, positions)


def dense_kernel(compact, indptr, indices, in_channels):
    """The dense `[kh, kw, in, filters]` kernel of a compact structure.

    Raises:
        ValueError: naming `in_channels` when it is a Python value but not an
            integer >= 1.
    """
    if not tf.is_tensor(in_channels) and (isinstance(in_channels, bool) or not isinstance(
            in_channels, int) or in_channels < 1):
        raise ValueError(f"`in_channels` must be an integer >= 1, got {in_channels!r}.")
    filters = tf.shape(indptr)[0] - 1
    nnz = tf.shape(indices)[0]
    rows = tf.searchsorted(indptr[1:], tf.range(nnz), side="right")
    coords = tf.stack([tf.cast(indices, tf.int32), tf.cast(rows, tf.int32)], axis=1)
    flat = tf.transpose(compact, [2, 0, 1])  # [nnz, kh, kw]
    shape = tf.concat([[in_channels, filters], tf.shape(compact)[:2]], axis=0)
    dense = tf.scatter_nd(coords, flat, shape)  # [in, filters, kh, kw]
    return tf.transpose(dense, [2, 3, 0, 1])


def reference(inputs, compact, indptr, indices, strides=(1, 1), padding="SAME",
              dilations=(1, 1)):
    """The pure-TF reference: `tf.nn.conv2d` with the dense masked kernel."""
    strides, padding, dilations = conv_attrs(strides, padding, dilations)
    kernel = dense_kernel(compact, indptr, indices, tf.shape(inputs)[3])
    return tf.nn.conv2d(inputs, kernel, strides=strides, padding=padding, dilations=dilations)


def sparse_channel_conv2d(inputs, compact, indptr, indices, strides=(1, 1), padding="SAME",
                          dilations=(1, 1)):
    """Channel-sparse 2-D convolution (NHWC).

    Args:
        inputs: `[batch, rows, cols, in]`, float32 or float64.
        compact: the compact kernel `[kh, kw, nnz]`, same dtype.
        indptr: int32 `[filters + 1]`.
        indices: int32 `[nnz]`, strictly increasing within each output channel.
        strides: two ints. Defaults to `(1, 1)`.
        padding: `"SAME"` or `"VALID"`. Defaults to `"SAME"`.
        dilations: two ints. Defaults to `(1, 1)`.

    Returns:
        `[batch, out_rows, out_cols, filters]`.

    Raises:
        tf.errors.InvalidArgumentError: for indices out of range, shapes that do not
            agree, wrong ranks (from the C++ op; the fallback raises TF's own errors).
    """
    module = loader.load()
    if module is None:
        return reference(inputs, compact, indptr, indices, strides, padding, dilations)
    strides, padding, dilations = conv_attrs(strides, padding, dilations)
    return module.tf_pe_sparse_channel_conv2d(inputs, compact, tf.cast(indptr, tf.int32),
                                              tf.cast(indices, tf.int32), strides=strides,
                                              padding=padding, dilations=dilations)


@tf.RegisterGradient(OP_NAME)
def _sparse_channel_conv2d_grad(op, grad):
    """Input gradient and kernel gradient (active connections only) of the op."""
    module = loader.load()
    inputs, compact, indptr, indices = op.inputs
    attrs = {name: op.get_attr(name) for name in ("strides", "padding", "dilations")}
    if module is None:  # a graph made with the op, differentiated without the library
        raise tf.errors.NotFoundError(None, None, "the tf_pe op library is not loaded")
    dx = module.tf_pe_sparse_channel_conv2d_backprop_input(
        tf.shape(inputs, out_type=tf.int32), compact, indptr, indices, grad, **attrs)
    dk = module.tf_pe_sparse_channel_conv2d_backprop_kernel(
        inputs, tf.shape(compact, out_type=tf.int32), indptr, indices, grad, **attrs)
    return [dx, dk, None, None]

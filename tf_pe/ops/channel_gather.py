"""`gather_channels` and `scatter_add_channels`: picking channels along the last axis.

`gather_channels(params, index)[..., m]` is `params[..., index[m]]`, or 0 where
`index[m] == -1`. `scatter_add_channels(updates, index, depth)` is its gradient:
zeros of the shape of `updates` with the last axis of size `depth`, plus
`updates[..., m]` at channel `index[m]` for every `index[m] >= 0` (duplicates add
up). Index values must lie in `[-1, D)`, `D` being `params.shape[-1]` (resp.
`depth`).

Both run the C++ ops `TfPe>GatherChannels` and `TfPe>ScatterAddChannels`
(`cc/gather_channels_op.cc`, CPU kernels only: there is no GPU kernel, so on a GPU
the ops run on the CPU) when the library is loaded, else a pure-TF fallback with
the same semantics and the same `tf.errors.InvalidArgumentError` for index values
out of range: `tf.gather` (on `params` with a zero channel appended, where `-1`
points, when some index is -1) and `tf.math.unsorted_segment_sum` over the channel
axis (which drops the `-1` entries). The gradients of the ops are each other.
"""

from __future__ import annotations

import warnings

import numpy as np
import tensorflow as tf

from tf_pe.ops import loader

GATHER_OP_NAME = "TfPe>GatherChannels"
SCATTER_OP_NAME = "TfPe>ScatterAddChannels"
DTYPES = (tf.float32, tf.float64, tf.float16, tf.bfloat16)
_state: dict = {}


def _module():
    """The loaded op module when it has these ops, else None (the fallback)."""
    module = loader.load()
    if module is None:
        return None
    if not hasattr(module, "tf_pe_gather_channels"):  # a library built before these ops
        if not _state.get("warned_stale"):
            _state["warned_stale"] = True
            warnings.warn("tf_pe: the op library has no TfPe>GatherChannels (built from older "
                          "sources); gather_channels uses the tf.gather fallback. Rebuild it "
                          "with `python -m tf_pe.ops.build`.", RuntimeWarning, stacklevel=3)
        return None
    return module


def _values(x, name):
    """`x` as a tensor of a supported dtype and rank >= 1 (where the rank is known)."""
    x = tf.convert_to_tensor(x)
    if x.dtype not in DTYPES:
        raise TypeError(f"`{name}` must be float32, float64, float16 or bfloat16, got "
                        f"{x.dtype.name}.")
    if x.shape.rank == 0:
        raise ValueError(f"`{name}` must have rank >= 1, got a scalar.")
    return x


def _index(index):
    """`index` as a 1-D int32 tensor (where the rank is known)."""
    index = tf.convert_to_tensor(index)
    if index.dtype not in (tf.int32, tf.int64):
        raise TypeError(f"`index` must be int32 or int64, got {index.dtype.name}.")
    if index.shape.rank is not None and index.shape.rank != 1:
        raise ValueError(f"`index` must be 1-D, got shape {index.shape}.")
    return tf.cast(index, tf.int32)


def _index_checks(index, depth, what):
    """Run-time checks of the fallback, with the op's error type (InvalidArgumentError)."""
    return [
        tf.debugging.assert_rank(index, 1, message="index must be 1-D"),
        tf.debugging.assert_greater_equal(index, -1, message="index values must be >= -1"),
        tf.debugging.assert_less(index, depth, message=f"index values must be < {what}"),
    ]


def gather_channels(params, index):
    """Gathers channels along the last axis; `-1` gives a zero channel.

    Args:
        params: `[..., D]`, float32, float64, float16 or bfloat16, rank >= 1.
        index: int32 (or int64) `[M]`, values in `[-1, D)`; repeats are allowed.

    Returns:
        `[..., M]` of the dtype of `params`: `output[..., m] = params[..., index[m]]`,
        0 where `index[m] == -1`.

    Raises:
        ValueError: naming `params` or `index` when a rank is known to be wrong.
        TypeError: naming `params` or `index` for an unsupported dtype.
        tf.errors.InvalidArgumentError: for index values outside `[-1, D)` (and wrong
            ranks only known when the graph runs).
    """
    params = _values(params, "params")
    index = _index(index)
    module = _module()
    if module is not None:
        return module.tf_pe_gather_channels(params, index)
    depth = tf.shape(params, out_type=tf.int32)[-1]
    checks = [tf.debugging.assert_rank_at_least(params, 1, message="params must have rank >= 1"),
              *_index_checks(index, depth, "params.shape[-1]")]

    def with_zero_channel():
        shape = tf.shape(params, out_type=tf.int32)
        zero = tf.zeros(tf.concat([shape[:-1], [1]], axis=0), params.dtype)
        padded = tf.concat([params, zero], axis=-1)  # channel D is the zero channel
        return tf.gather(padded, tf.where(index < 0, depth, index), axis=-1)

    with tf.control_dependencies(checks):
        # The copy into `padded` only where some index is -1.
        return tf.cond(tf.reduce_any(index < 0), with_zero_channel,
                       lambda: tf.gather(params, index, axis=-1))


def scatter_add_channels(updates, index, depth):
    """Adds channels into `depth` zero channels along the last axis (the gradient of
    `gather_channels`).

    Args:
        updates: `[..., M]`, float32, float64, float16 or bfloat16, rank >= 1.
        index: int32 (or int64) `[M]`, values in `[-1, depth)`; `-1` entries are
            dropped, duplicates add up.
        depth: the size `D >= 0` of the output's last axis: an int or an integer
            scalar tensor.

    Returns:
        `[..., D]` of the dtype of `updates`: zero except
        `output[..., index[m]] += updates[..., m]` for `index[m] >= 0`.

    Raises:
        ValueError: naming `updates`, `index` or `depth` when a rank, the length of
            `index` or a Python `depth` is known to be wrong.
        TypeError: naming `updates`, `index` or `depth` for an unsupported dtype.
        tf.errors.InvalidArgumentError: for index values outside `[-1, depth)`, a
            negative `depth`, or ranks and lengths only known when the graph runs.
    """
    updates = _values(updates, "updates")
    index = _index(index)
    if isinstance(depth, bool) or (not tf.is_tensor(depth) and not isinstance(
            depth, (int, np.integer))):
        raise TypeError(f"`depth` must be an integer or an integer tensor, got {depth!r}.")
    if not tf.is_tensor(depth) and depth < 0:
        raise ValueError(f"`depth` must be >= 0, got {depth}.")
    if tf.is_tensor(depth) and not depth.dtype.is_integer:
        raise TypeError(f"`depth` must be an integer tensor, got {depth.dtype.name}.")
    depth = tf.cast(depth, tf.int32)
    if depth.shape.rank is not None and depth.shape.rank != 0:
        raise ValueError(f"`depth` must be a scalar, got shape {depth.shape}.")
    length, channels = index.shape[0], updates.shape[-1] if updates.shape.rank else None
    if length is not None and channels is not None and length != channels:
        raise ValueError(f"`updates` must have index's length {length} as its last "
                         f"dimension, got shape {updates.shape}.")
    module = _module()
    if module is not None:
        return module.tf_pe_scatter_add_channels(updates, index, depth)
    shape = tf.shape(updates, out_type=tf.int32)
    checks = [tf.debugging.assert_rank_at_least(updates, 1,
                                                message="updates must have rank >= 1"),
              tf.debugging.assert_rank(depth, 0, message="depth must be a scalar"),
              tf.debugging.assert_non_negative(depth, message="depth must be >= 0"),
              *_index_checks(index, depth, "depth"),
              tf.debugging.assert_equal(shape[-1], tf.size(index),
                                        message="updates.shape[-1] must equal len(index)")]
    with tf.control_dependencies(checks):
        rows = tf.reduce_prod(shape[:-1])
        flat = tf.transpose(tf.reshape(updates, tf.stack([rows, shape[-1]])))  # [M, P]
        summed = tf.math.unsorted_segment_sum(flat, index, depth)  # [D, P], -1 dropped
        out = tf.reshape(tf.transpose(summed), tf.concat([shape[:-1], [depth]], axis=0))
    if updates.shape.rank is not None:
        static_depth = tf.get_static_value(depth)
        out.set_shape(updates.shape[:-1].concatenate(
            [None if static_depth is None else int(static_depth)]))
    return out


@tf.RegisterGradient(GATHER_OP_NAME)
def _gather_channels_grad(op, grad):
    """d params = scatter_add_channels(grad, index, D); no gradient for index."""
    params, index = op.inputs
    depth = params.shape[-1] if params.shape.rank else None
    if depth is None:
        depth = tf.shape(params, out_type=tf.int32)[-1]
    return [scatter_add_channels(grad, index, depth), None]


@tf.RegisterGradient(SCATTER_OP_NAME)
def _scatter_add_channels_grad(op, grad):
    """d updates = gather_channels(grad, index); no gradient for index and depth."""
    return [gather_channels(grad, op.inputs[1]), None, None]

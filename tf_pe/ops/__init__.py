"""Custom TensorFlow ops (C++ CPU kernels in `cc/`, loaded lazily by `loader`)."""

from tf_pe.ops import dispatch, loader
from tf_pe.ops.sparse_channel_conv import (
    compact_from_mask,
    dense_kernel,
    reference,
    sparse_channel_conv2d,
)

# Registers the op (so that SavedModels that use it load) or warns once.
loader.load()

__all__ = [
    "compact_from_mask",
    "dense_kernel",
    "dispatch",
    "loader",
    "reference",
    "sparse_channel_conv2d",
]

"""Custom TensorFlow ops (C++ CPU kernels in `cc/`, loaded lazily by `loader`)."""

from tf_pe.ops import channel_gather, dispatch, grouped, loader
from tf_pe.ops.channel_gather import gather_channels, scatter_add_channels
from tf_pe.ops.grouped import (
    GroupedStructure,
    grouped_conv2d,
    grouped_structure,
    hybrid_conv2d,
)
from tf_pe.ops.sparse_channel_conv import (
    CompactStructure,
    compact_conv2d,
    compact_from_mask,
    compact_structure,
    dense_kernel,
    reference,
    sparse_channel_conv2d,
)

# Registers the op (so that SavedModels that use it load) or warns once.
loader.load()

__all__ = [
    "CompactStructure",
    "GroupedStructure",
    "channel_gather",
    "compact_conv2d",
    "compact_from_mask",
    "compact_structure",
    "dense_kernel",
    "dispatch",
    "gather_channels",
    "grouped",
    "grouped_conv2d",
    "grouped_structure",
    "hybrid_conv2d",
    "loader",
    "reference",
    "scatter_add_channels",
    "sparse_channel_conv2d",
]

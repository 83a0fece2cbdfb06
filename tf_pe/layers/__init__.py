"""Sparse and predicted Keras layers."""

from tf_pe.layers.sparse_channel import SparseChannelConv2D

__all__ = ["SparseChannelConv2D"]

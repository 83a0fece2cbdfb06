"""Sparse and predicted Keras layers."""

from tf_pe.layers import masked_convert  # noqa: F401  (registers method="masked")
from tf_pe.layers.masked import MaskedConv2D, MaskedDense, MaskedDepthwiseConv2D
from tf_pe.layers.predicted import PredictedConv2D, PredictedDense
from tf_pe.layers.sparse_channel import SparseChannelConv2D

__all__ = [
    "MaskedConv2D",
    "MaskedDense",
    "MaskedDepthwiseConv2D",
    "PredictedConv2D",
    "PredictedDense",
    "SparseChannelConv2D",
]

"""The sparsity core: the mask protocol and parameter/MAC accounting."""

from tf_pe.sparsity.accounting import LayerStats, ModelSummary, layer_stats, summary
from tf_pe.sparsity.protocol import (
    SparseLayer,
    find_sparse_layers,
    is_sparse_layer,
    leaf_layers,
)

__all__ = [
    "LayerStats",
    "ModelSummary",
    "SparseLayer",
    "find_sparse_layers",
    "is_sparse_layer",
    "layer_stats",
    "leaf_layers",
    "summary",
]

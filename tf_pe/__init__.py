"""tf_pe: train parameter-efficient CNNs directly in Keras 3 / TensorFlow."""

from tf_pe import (
    bench,
    callbacks,
    compression,
    data,
    export,
    layers,
    models,
    ops,
    prediction,
    sparsity,
    training,
    viz,
)
from tf_pe.models import sparsify
from tf_pe.sparsity import summary

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "bench",
    "callbacks",
    "compression",
    "data",
    "export",
    "layers",
    "models",
    "ops",
    "prediction",
    "sparsify",
    "sparsity",
    "summary",
    "training",
    "viz",
]

"""Pictures of tf_pe models and results (matplotlib, imported only when drawing).

Every function takes the data, an optional matplotlib axis (or axes) and an
optional path, and returns the `matplotlib.figure.Figure`.
"""

from tf_pe.viz.accuracy import accuracy_vs_cost
from tf_pe.viz.filters import learned_vs_predicted
from tf_pe.viz.masks import connection_masks
from tf_pe.viz.training import densification_curve, layer_density_history

__all__ = [
    "accuracy_vs_cost",
    "connection_masks",
    "densification_curve",
    "layer_density_history",
    "learned_vs_predicted",
]

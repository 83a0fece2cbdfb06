"""Dictionaries for kernel-ridge weight prediction (Denil et al., NeurIPS 2013)."""

from tf_pe.prediction.dictionaries import (
    AE,
    DICTIONARIES,
    SE,
    Dictionary,
    Domain,
    Emp,
    Emp2,
    LowRank,
    RandCon,
    RandFixU,
    draw_alpha,
    get,
    ridge_dictionary,
    serialize,
)
from tf_pe.prediction.fitting import fit_predicted_layers

__all__ = [
    "AE",
    "DICTIONARIES",
    "SE",
    "Dictionary",
    "Domain",
    "Emp",
    "Emp2",
    "LowRank",
    "RandCon",
    "RandFixU",
    "draw_alpha",
    "fit_predicted_layers",
    "get",
    "ridge_dictionary",
    "serialize",
]

"""Compression of trained models into physically smaller ones (LRE-AMC)."""

from tf_pe.compression.amc import LREAMC, ORDERS, counts, lre_amc
from tf_pe.compression.distill import Distiller, distill
from tf_pe.compression.lre import METHODS, Redundancy, redundancy, select_units
from tf_pe.compression.surgery import Removal, consumer_preactivation, remove_units, shrink
from tf_pe.compression.topology import Link, find_link, shrinkable_layers

__all__ = [
    "LREAMC",
    "METHODS",
    "ORDERS",
    "Distiller",
    "Link",
    "Redundancy",
    "Removal",
    "consumer_preactivation",
    "counts",
    "distill",
    "find_link",
    "lre_amc",
    "redundancy",
    "remove_units",
    "select_units",
    "shrink",
    "shrinkable_layers",
]

"""Callbacks that change a network's structure during training."""

from tf_pe.callbacks.baselines import SET, GradualMagnitudePruning
from tf_pe.callbacks.densify import Densify, DensifyEvery, densify_layer
from tf_pe.callbacks.mask_update import MaskUpdateCallback, PeriodSchedule
from tf_pe.callbacks.reparam import DynamicSparseReparam, allocate_regrowth
from tf_pe.callbacks.schedules import (
    CallableSchedule,
    DensificationSchedule,
    DoublingSchedule,
    LinearSchedule,
)

__all__ = [
    "SET",
    "CallableSchedule",
    "DensificationSchedule",
    "Densify",
    "DensifyEvery",
    "DoublingSchedule",
    "DynamicSparseReparam",
    "GradualMagnitudePruning",
    "LinearSchedule",
    "MaskUpdateCallback",
    "PeriodSchedule",
    "allocate_regrowth",
    "densify_layer",
]

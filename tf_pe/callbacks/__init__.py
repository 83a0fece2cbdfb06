"""Callbacks that change a network's structure during training."""

from tf_pe.callbacks.densify import Densify, DensifyEvery, densify_layer
from tf_pe.callbacks.schedules import (
    CallableSchedule,
    DensificationSchedule,
    DoublingSchedule,
    LinearSchedule,
)

__all__ = [
    "CallableSchedule",
    "DensificationSchedule",
    "Densify",
    "DensifyEvery",
    "DoublingSchedule",
    "LinearSchedule",
    "densify_layer",
]

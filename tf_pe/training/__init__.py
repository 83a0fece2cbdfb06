"""Training runs: configuration, methods, and the run itself (`tf-pe train`)."""

from tf_pe.training import (
    channel,  # noqa: F401  (registers method "channel")
    predict,  # noqa: F401  (registers method "predict")
    reparam,  # noqa: F401  (registers dsr, static, set, gmp)
)
from tf_pe.training.config import LR_SCHEDULES, OPTIMIZERS, TrainConfig
from tf_pe.training.methods import (
    Method,
    available_methods,
    get_method,
    register_method,
)
from tf_pe.training.run import train

__all__ = [
    "LR_SCHEDULES",
    "OPTIMIZERS",
    "Method",
    "TrainConfig",
    "available_methods",
    "get_method",
    "register_method",
    "train",
]

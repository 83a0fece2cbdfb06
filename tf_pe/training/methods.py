"""Training methods: how a run turns a zoo model into the network it trains.

A method is registered once under its `--method` name. Later features (channel
sparsity, dynamic sparse reparameterization, weight prediction) register theirs
here; the CLI and the benchmarks find them through `get_method`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras

from tf_pe import models
from tf_pe._registry import Registry
from tf_pe.training.config import TrainConfig

BuildFn = Callable[[TrainConfig, tuple, int], tuple[keras.Model, list[keras.callbacks.Callback]]]


@dataclasses.dataclass(frozen=True)
class Method:
    """A way to train a zoo model.

    Attributes:
        name: the `--method` name.
        description: one line for `--help`.
        build: `build(config, input_shape, num_classes) -> (model, callbacks)`.
        uses_density: whether `config.density` means anything to this method.
    """

    name: str
    description: str
    build: BuildFn
    uses_density: bool = True


_METHODS: Registry[Method] = Registry("method")


def register_method(method: Method) -> Method:
    """Registers `method` under its name.

    Raises:
        ValueError: if the name is taken.
    """
    return _METHODS.register(method.name, method)


def available_methods() -> list[str]:
    """Returns the registered method names."""
    return _METHODS.names()


def get_method(name: str) -> Method:
    """Returns the method called `name`.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    return _METHODS.get(name)


def _build_dense(config: TrainConfig, input_shape: tuple, num_classes: int):
    model = models.get(config.model, input_shape=input_shape, num_classes=num_classes,
                       depth_multiplier=config.depth_multiplier)
    return model, []


register_method(Method(
    name="dense",
    description="the zoo model as it is (a thin dense baseline with --depth-multiplier < 1)",
    build=_build_dense,
    uses_density=False,
))

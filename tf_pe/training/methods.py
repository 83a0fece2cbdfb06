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


_METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    """Registers `method` under its name.

    Raises:
        ValueError: if the name is taken.
    """
    if method.name in _METHODS:
        raise ValueError(f"Method {method.name!r} is already registered.")
    _METHODS[method.name] = method
    return method


def available_methods() -> list[str]:
    """Returns the registered method names."""
    return sorted(_METHODS)


def get_method(name: str) -> Method:
    """Returns the method called `name`.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if name not in _METHODS:
        raise ValueError(
            f"`method` must be one of {', '.join(available_methods())}; got {name!r}.")
    return _METHODS[name]


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

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
        options: the method-specific `TrainConfig` fields this method reads
            (for example `"density"`). A run that sets a field that some method
            reads but this one does not is refused, so that no flag is silently
            ignored.
    """

    name: str
    description: str
    build: BuildFn
    options: tuple[str, ...] = ()


_METHODS: Registry[Method] = Registry("method")


def register_method(method: Method) -> Method:
    """Registers `method` under its name.

    Raises:
        TypeError: naming `method` when it is not a `Method`.
        ValueError: if the name is taken.
    """
    if not isinstance(method, Method):
        raise TypeError(f"`method` must be a Method, got {type(method).__name__}.")
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


def check_options(method: Method, config: TrainConfig) -> None:
    """Refuses method-specific settings that `method` would ignore.

    Raises:
        ValueError: naming the first field that differs from its default while
            `method` does not read it.
    """
    defaults = TrainConfig()
    specific = {o for name in available_methods() for o in get_method(name).options}
    for field in sorted(specific - set(method.options)):
        value = getattr(config, field)
        if value != getattr(defaults, field):
            raise ValueError(f"`{field}`={value!r} has no effect with method {method.name!r}; "
                             f"methods that use it: {', '.join(_users(field))}.")


def _users(field: str) -> list[str]:
    return [name for name in available_methods() if field in get_method(name).options]


def _build_dense(config: TrainConfig, input_shape: tuple, num_classes: int):
    model = models.get(config.model, input_shape=input_shape, num_classes=num_classes,
                       depth_multiplier=config.depth_multiplier)
    return model, []


register_method(Method(
    name="dense",
    description="the zoo model as it is (a thin dense baseline with --depth-multiplier < 1)",
    build=_build_dense,
))

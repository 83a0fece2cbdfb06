"""Densification schedules: the connection density wanted after `step` training steps.

Incremental training (Changpinyo, Sandler, Zhmoginov 2017, "The Power of Sparsity in
Convolutional Neural Networks", sec. 3.2.1 and 5.3) starts with a small fraction of
connections (1% or 0.1%) and doubles it every `T` steps until the network is dense:

    density(step) = min(final_density, initial_density * factor ** floor(step / T)).

A schedule is an object with `__call__(step) -> density` and `get_config()`, never a
string to parse (as tfmot's pruning schedules). Densities must not decrease with the
step; `Densify` checks this as it goes and raises on a schedule that shrinks.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import keras

from tf_pe.sparsity.patterns import check_density


def _check_steps(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
    return int(value)


@keras.saving.register_keras_serializable(package="tf_pe")
class DensificationSchedule:
    """Base class: maps a training step (an int >= 0) to a density in (0, 1].

    Subclasses implement `__call__` and `get_config`; `from_config(get_config())`
    must rebuild an equal schedule.
    """

    def __call__(self, step: int) -> float:
        """Returns the density wanted once `step` training steps are done."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step).")

    def get_config(self) -> dict:
        """Returns the constructor arguments."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_config().")

    @classmethod
    def from_config(cls, config: dict):
        """Builds the schedule from `get_config()`'s output."""
        return cls(**config)


@keras.saving.register_keras_serializable(package="tf_pe")
class DoublingSchedule(DensificationSchedule):
    """Multiplies the density by `factor` every `every` steps (Changpinyo et al.
    2017, sec. 5.3): `min(final_density, initial_density * factor ** (step // every))`.

    Args:
        initial_density: the density at step 0, in (0, 1].
        every: steps between two multiplications, >= 1.
        factor: the multiplier, > 1. Defaults to 2.
        final_density: the cap, in [initial_density, 1]. Defaults to 1.

    Raises:
        ValueError: naming the argument that is out of range.
    """

    def __init__(self, initial_density: float, every: int, factor: float = 2.0,
                 final_density: float = 1.0):
        self.initial_density = check_density(initial_density, "initial_density")
        self.every = _check_steps("every", every)
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not factor > 1:
            raise ValueError(f"`factor` must be a number > 1, got {factor!r}.")
        self.factor = float(factor)
        self.final_density = check_density(final_density, "final_density")
        if self.final_density < self.initial_density:
            raise ValueError(
                f"`final_density` must be >= initial_density={self.initial_density} (a "
                f"densification schedule cannot decrease), got {self.final_density}.")

    def __call__(self, step: int) -> float:
        periods = int(step) // self.every
        # Past log(final/initial)/log(factor) periods the cap holds; avoid overflow.
        if periods > math.log(self.final_density / self.initial_density) / math.log(self.factor):
            return self.final_density
        return min(self.final_density, self.initial_density * self.factor**periods)

    def get_config(self) -> dict:
        return {"initial_density": self.initial_density, "every": self.every,
                "factor": self.factor, "final_density": self.final_density}


@keras.saving.register_keras_serializable(package="tf_pe")
class LinearSchedule(DensificationSchedule):
    """Raises the density linearly from `initial_density` to `final_density` over
    `steps` steps, updating every `every` steps:
    `initial + (final - initial) * min(1, every * floor(step / every) / steps)`.

    Args:
        initial_density: the density at step 0, in (0, 1].
        final_density: the density from step `steps` on, in [initial_density, 1].
            Defaults to 1.
        steps: the length of the ramp, >= 1. Defaults to 10,000.
        every: steps between two updates, >= 1. Defaults to 1.

    Raises:
        ValueError: naming the argument that is out of range.
    """

    def __init__(self, initial_density: float, final_density: float = 1.0,
                 steps: int = 10_000, every: int = 1):
        self.initial_density = check_density(initial_density, "initial_density")
        self.final_density = check_density(final_density, "final_density")
        if self.final_density < self.initial_density:
            raise ValueError(
                f"`final_density` must be >= initial_density={self.initial_density} (a "
                f"densification schedule cannot decrease), got {self.final_density}.")
        self.steps = _check_steps("steps", steps)
        self.every = _check_steps("every", every)

    def __call__(self, step: int) -> float:
        done = min(1.0, self.every * (int(step) // self.every) / self.steps)
        return self.initial_density + (self.final_density - self.initial_density) * done

    def get_config(self) -> dict:
        return {"initial_density": self.initial_density, "final_density": self.final_density,
                "steps": self.steps, "every": self.every}


@keras.saving.register_keras_serializable(package="tf_pe")
class CallableSchedule(DensificationSchedule):
    """Wraps a user function `fn(step) -> density`.

    The function must be non-decreasing with values in (0, 1]; `Densify` checks
    each value it uses. For `get_config` to round-trip, `fn` must be serializable
    by Keras (for example a function registered with
    `keras.saving.register_keras_serializable`).

    Args:
        fn: the schedule function.

    Raises:
        ValueError: if `fn` is not callable.
    """

    def __init__(self, fn: Callable[[int], float]):
        if isinstance(fn, dict | str):
            fn = keras.saving.deserialize_keras_object(fn)
        if not callable(fn):
            raise ValueError(f"`fn` must be callable, got {fn!r}.")
        self.fn = fn

    def __call__(self, step: int) -> float:
        return check_density(float(self.fn(int(step))), "schedule(step)")

    def get_config(self) -> dict:
        return {"fn": keras.saving.serialize_keras_object(self.fn)}


def get(schedule) -> DensificationSchedule:
    """Returns `schedule` as a `DensificationSchedule` (wrapping plain callables).

    Raises:
        ValueError: if `schedule` is neither a schedule nor callable.
    """
    if isinstance(schedule, DensificationSchedule):
        return schedule
    if callable(schedule):
        return CallableSchedule(schedule)
    raise ValueError(
        f"`schedule` must be a DensificationSchedule or a callable, got {schedule!r}.")

"""Argument checks and layer-factory defaults shared by the model builders.

Every builder creates each `Conv2D` and `Dense` layer through a factory with the
signature of `keras.layers.Conv2D` (``(filters, kernel_size, **kwargs)``) or
`keras.layers.Dense` (``(units, **kwargs)``), always with a ``name=`` keyword. This
module resolves the defaults and checks the arguments the builders share.
"""

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import keras

LayerFactory = Callable[..., keras.layers.Layer]


def check_input_shape(
    input_shape: Sequence[int], *, rank: int | None = None, min_spatial: int = 1
) -> tuple[int, ...]:
    """Validates an input shape (without the batch dimension).

    Args:
        input_shape: A sequence of integers >= 1, e.g. ``(28, 28, 1)``.
        rank: The required length of ``input_shape`` (3 for channels-last images),
            or `None` for any length >= 1. Defaults to `None`.
        min_spatial: The smallest height and width the network accepts (only
            checked when ``rank`` is 3). Defaults to 1.

    Returns:
        ``input_shape`` as a tuple of Python ints.

    Raises:
        ValueError: If ``input_shape`` has the wrong rank, a non-integer or
            non-positive entry, or a height or width below ``min_spatial``.
    """
    if isinstance(input_shape, str | bytes) or not isinstance(input_shape, Sequence):
        raise ValueError(f"`input_shape` must be a sequence of integers, got {input_shape!r}.")
    if any(
        isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1 for d in input_shape
    ):
        raise ValueError(f"`input_shape` entries must be integers >= 1, got {input_shape!r}.")
    shape = tuple(int(d) for d in input_shape)
    if rank is None and not shape:
        raise ValueError("`input_shape` must have at least one dimension, got ().")
    if rank is not None and len(shape) != rank:
        raise ValueError(
            f"`input_shape` must have rank {rank} (height, width, channels), got {shape!r}."
        )
    if rank == 3 and min(shape[:2]) < min_spatial:
        raise ValueError(
            f"`input_shape` height and width must be >= {min_spatial} for this network, "
            f"got {shape!r}."
        )
    return shape


def check_num_classes(num_classes: int) -> int:
    """Validates the number of classes.

    Args:
        num_classes: An integer >= 2.

    Returns:
        ``num_classes`` as a Python int.

    Raises:
        ValueError: If ``num_classes`` is not an integer >= 2.
    """
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, numbers.Integral)
        or num_classes < 2
    ):
        raise ValueError(f"`num_classes` must be an integer >= 2, got {num_classes!r}.")
    return int(num_classes)


def check_int(value: int, name: str, minimum: int) -> int:
    """Validates an integer argument.

    Args:
        value: The value to check.
        name: The argument's name, used in the error message.
        minimum: The smallest allowed value.

    Returns:
        ``value`` as a Python int.

    Raises:
        ValueError: If ``value`` is not an integer >= ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_fraction(value: float, name: str) -> float:
    """Validates a rate in ``[0, 1)``, such as a dropout rate.

    Args:
        value: The value to check.
        name: The argument's name, used in the error message.

    Returns:
        ``value`` as a Python float.

    Raises:
        ValueError: If ``value`` is not a real number in ``[0, 1)``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a number in [0, 1), got {value!r}.")
    return float(value)


def check_weight_decay(weight_decay: float) -> float:
    """Validates an L2 coefficient.

    Args:
        weight_decay: A finite real number >= 0.

    Returns:
        ``weight_decay`` as a Python float.

    Raises:
        ValueError: If ``weight_decay`` is negative, infinite or not a real number.
    """
    if (
        isinstance(weight_decay, bool)
        or not isinstance(weight_decay, numbers.Real)
        or not math.isfinite(weight_decay)
        or weight_decay < 0
    ):
        raise ValueError(f"`weight_decay` must be a finite number >= 0, got {weight_decay!r}.")
    return float(weight_decay)


def regularizer_kwargs(weight_decay: float) -> dict[str, Any]:
    """Returns ``kernel_regularizer`` keywords for a layer factory.

    Args:
        weight_decay: A validated L2 coefficient; 0 means no regularizer.

    Returns:
        ``{"kernel_regularizer": keras.regularizers.L2(weight_decay)}`` (a new object
        per call) when ``weight_decay > 0``, else ``{}`` so that factories without a
        ``kernel_regularizer`` argument still work.
    """
    if weight_decay > 0:
        return {"kernel_regularizer": keras.regularizers.L2(weight_decay)}
    return {}


def resolve_factories(
    conv_layer: LayerFactory | None, dense_layer: LayerFactory | None
) -> tuple[LayerFactory, LayerFactory]:
    """Fills in the default layer factories and checks user-supplied ones.

    Args:
        conv_layer: A callable with `keras.layers.Conv2D`'s signature, or `None` for
            `keras.layers.Conv2D`.
        dense_layer: A callable with `keras.layers.Dense`'s signature, or `None` for
            `keras.layers.Dense`.

    Returns:
        The ``(conv_layer, dense_layer)`` factories to use.

    Raises:
        ValueError: If ``conv_layer`` or ``dense_layer`` is neither `None` nor callable.
    """
    if conv_layer is None:
        conv_layer = keras.layers.Conv2D
    if dense_layer is None:
        dense_layer = keras.layers.Dense
    if not callable(conv_layer):
        raise ValueError(f"`conv_layer` must be callable or None, got {conv_layer!r}.")
    if not callable(dense_layer):
        raise ValueError(f"`dense_layer` must be callable or None, got {dense_layer!r}.")
    return conv_layer, dense_layer

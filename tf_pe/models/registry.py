"""Model registry: build a zoo model by name.

Names are the builder names (``"lenet5"``, ``"wrn"``, ...) plus preset widths of the
wide ResNet (``"wrn_16_2"``, ``"wrn_28_2"``). `get` accepts dashes for underscores
and any letter case, so ``"WRN-28-2"`` is ``"wrn_28_2"``.
"""

import functools
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import keras

from tf_pe.models.changpinyo import changpinyo_cifar, changpinyo_mnist
from tf_pe.models.lenet import lenet5, lenet_300_100, mlp
from tf_pe.models.resnet import resnet50
from tf_pe.models.vgg import vgg16n
from tf_pe.models.wrn import wrn

__all__ = ["available", "get", "get_builder"]

_BUILDERS: MappingProxyType[str, Callable[..., keras.Model]] = MappingProxyType(
    {
        "changpinyo_cifar": changpinyo_cifar,
        "changpinyo_mnist": changpinyo_mnist,
        "lenet5": lenet5,
        "lenet_300_100": lenet_300_100,
        "mlp": mlp,
        "resnet50": resnet50,
        "vgg16n": vgg16n,
        "wrn": wrn,
        "wrn_16_2": functools.partial(wrn, depth=16, width=2),
        "wrn_28_2": functools.partial(wrn, depth=28, width=2),
    }
)


def available() -> list[str]:
    """Returns the registered model names, sorted.

    Returns:
        A new sorted list of the names `get` accepts.
    """
    return sorted(_BUILDERS)


def get_builder(name: str) -> Callable[..., keras.Model]:
    """Returns the builder function registered under ``name``.

    Args:
        name: A registered model name; case and dashes versus underscores do not
            matter.

    Returns:
        The builder, a callable that takes the builder keyword arguments
        (``input_shape``, ``num_classes``, ``depth_multiplier``, ``conv_layer``,
        ``dense_layer``, ``name``, and model-specific ones) and returns a
        `keras.Model`.

    Raises:
        ValueError: If ``name`` is not a registered model name; the message lists the
            valid names.
    """
    key = name.lower().replace("-", "_") if isinstance(name, str) else None
    if key not in _BUILDERS:
        raise ValueError(f"`name` must be one of {', '.join(available())}; got {name!r}.")
    return _BUILDERS[key]


def get(name: str, **kwargs: Any) -> keras.Model:
    """Builds the model registered under ``name``.

    Example:
        ``tf_pe.models.get("wrn_16_2", num_classes=100, dropout=0.3)``

    Args:
        name: A registered model name (see `available`); case and dashes versus
            underscores do not matter.
        **kwargs: Keyword arguments passed on to the builder, e.g. ``input_shape``,
            ``num_classes``, ``depth_multiplier``, ``conv_layer``, ``dense_layer``.

    Returns:
        An uncompiled functional `keras.Model` that outputs logits (no softmax).

    Raises:
        ValueError: If ``name`` is not a registered model name (the message lists
            the valid names) or the builder rejects an argument.
    """
    return get_builder(name)(**kwargs)

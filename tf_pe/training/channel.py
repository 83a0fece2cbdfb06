"""Training method "channel": channel-sparse convolutions, optionally densified.

Changpinyo, Sandler, Zhmoginov 2017, "The Power of Sparsity in Convolutional Neural
Networks": every `Conv2D` of the zoo model becomes a `SparseChannelConv2D` whose
output channels each see a fraction of the input channels (sec. 3.2); dense layers
keep all their connections, as in the paper (sec. 5.1). With `densify_every=T`
training is incremental (sec. 3.2.1, 5.3): the layers start at `initial_density`
(1% by default) and their connections double every `T` steps up to `density`.

    tf-pe train --model=changpinyo_mnist --method=channel --density=0.1
    tf-pe train --model=changpinyo_mnist --method=channel --densify-every=500 \
        --initial-density=0.01
"""

from __future__ import annotations

from tf_pe import models
from tf_pe.callbacks.densify import DensifyEvery
from tf_pe.layers.sparse_channel import SparseChannelConv2D
from tf_pe.sparsity.protocol import leaf_layers
from tf_pe.training.config import TrainConfig
from tf_pe.training.methods import Method, register_method

# The paper's starting density for incremental training (sec. 5.3 uses 1% and 0.1%).
DEFAULT_INITIAL_DENSITY = 0.01


def starting_density(config: TrainConfig) -> float:
    """The density the sparse layers are built with: `density`, or when densifying
    `initial_density` (default 1%, never above `density`)."""
    if config.densify_every is None:
        return config.density
    initial = config.initial_density or DEFAULT_INITIAL_DENSITY
    return min(initial, config.density)


def build_channel(config: TrainConfig, input_shape: tuple, num_classes: int):
    """Builds the zoo model with `SparseChannelConv2D` layers and its callbacks.

    Args:
        config: the run's configuration (uses `density`, `pattern`,
            `densify_every`, `initial_density`, `densify_factor`, `seed`).
        input_shape: the dataset's example shape.
        num_classes: the dataset's number of classes.

    Returns:
        `(model, callbacks)`: callbacks hold a `DensifyEvery` when densifying.

    Raises:
        ValueError: if the model has no plain `Conv2D` layer to make sparse.
    """
    dense = models.get(config.model, input_shape=input_shape, num_classes=num_classes,
                       depth_multiplier=config.depth_multiplier)
    model = models.sparsify(dense, method="channel", density=starting_density(config),
                            pattern=config.pattern, seed=config.seed)
    if not any(isinstance(layer, SparseChannelConv2D) for layer in leaf_layers(model)):
        raise ValueError(f"`model` {config.model!r} has no Conv2D layer for method 'channel'; "
                         "choose a convolutional model.")
    callbacks = []
    if config.densify_every is not None:
        callbacks.append(DensifyEvery(config.densify_every, factor=config.densify_factor,
                                      final_density=config.density))
    return model, callbacks


register_method(Method(
    name="channel",
    description="channel-sparse convolutions (Changpinyo et al. 2017), --density, --pattern, "
                "optional incremental training with --densify-every",
    build=build_channel,
    options=("density", "pattern", "densify_every", "initial_density", "densify_factor"),
))

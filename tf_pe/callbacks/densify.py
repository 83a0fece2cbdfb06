"""Incremental densification of `SparseChannelConv2D` layers during training.

Changpinyo, Sandler, Zhmoginov 2017, "The Power of Sparsity in Convolutional Neural
Networks", sec. 3.2.1 and 5.3: start with a small fraction of the connections (1% or
0.1%) and double it every `T` steps until the network is dense::

    model.fit(ds, callbacks=[tf_pe.callbacks.DensifyEvery(10000)])

Before each training batch, `Densify` asks its schedule for the density at the
layer's step, and when that needs more connections than the layer has, activates new
ones at random among the inactive ones (dead filters first, see
`tf_pe.sparsity.patterns.grow_mask`). Their kernel slices are set to zero, so the
network's function does not change at the densification step (or to
`N(0, init_stddev)` on request). After each batch the step advances.

All state lives in the layers: the step in the non-trainable `densify_step`
variable and the random choices seeded by `(mask_seed, step)`. A run resumed from a
`.keras` file, a checkpoint or `BackupAndRestore` therefore densifies at the same
steps with the same choices, and so does every replica of a distributed run.

Optimizer slots need no reset: an inactive kernel entry always has an exactly zero
gradient (the layer multiplies by the mask inside the graph), so its momentum and
Adam moments are still zero when it is activated.
"""

from __future__ import annotations

import keras
import numpy as np

from tf_pe.callbacks import schedules as schedules_lib
from tf_pe.layers.sparse_channel import SparseChannelConv2D
from tf_pe.sparsity import patterns
from tf_pe.sparsity.protocol import leaf_layers

# Tolerance for the monotonicity check of user schedules.
_SHRINK_TOLERANCE = 1e-12


def densify_layer(layer: SparseChannelConv2D, density: float, step: int = 0,
                  init_stddev: float = 0.0) -> int:
    """Activates connections of `layer` until it has the count of `density`.

    The count is `tf_pe.sparsity.patterns.active_count(in, filters, density)`. New
    connections are drawn with a generator seeded by `(layer.mask_seed, step)`; their
    kernel slices are set to zero, or to `N(0, init_stddev)` samples. A layer that
    already has that many connections (a dense layer, for example) is left as it is.

    Args:
        layer: a built `SparseChannelConv2D`.
        density: the wanted density, in (0, 1].
        step: the training step, part of the seed. Defaults to 0.
        init_stddev: standard deviation of the new kernel entries; 0 sets them to
            zero. Defaults to 0.

    Returns:
        The number of connections activated.

    Raises:
        ValueError: for a layer that is not a built `SparseChannelConv2D`, a density
            outside (0, 1] or a negative `init_stddev`.
    """
    if not isinstance(layer, SparseChannelConv2D) or not layer.built:
        raise ValueError(f"`layer` must be a built SparseChannelConv2D, got {layer!r}.")
    if not init_stddev >= 0:
        raise ValueError(f"`init_stddev` must be >= 0, got {init_stddev}.")
    mask = keras.ops.convert_to_numpy(layer.mask)
    target = patterns.active_count(mask.shape[0], mask.shape[1], density)
    if target <= np.count_nonzero(mask):
        return 0
    seed = int(keras.ops.convert_to_numpy(layer.mask_seed))
    rng = np.random.default_rng([seed, int(step)])
    grown = patterns.grow_mask(mask, target, rng)
    added = (grown != 0) & (mask == 0)
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    if init_stddev > 0:
        fresh = rng.normal(0.0, init_stddev, size=kernel.shape).astype(kernel.dtype)
    else:
        fresh = np.zeros_like(kernel)
    layer.kernel.assign(np.where(added[None, None], fresh, kernel))
    layer.mask.assign(grown)
    return int(added.sum())


def _channel_layers(model) -> list[SparseChannelConv2D]:
    return [layer for layer in leaf_layers(model) if isinstance(layer, SparseChannelConv2D)]


class Densify(keras.callbacks.Callback):
    """Densifies every `SparseChannelConv2D` of the model on a schedule.

    Args:
        schedule: a `DensificationSchedule` or a callable `step -> density`; its
            values must not decrease.
        init_stddev: standard deviation of newly activated kernel entries; 0 (the
            default) starts them at zero so the outputs do not jump.
        layers: the layers to densify; None for every `SparseChannelConv2D` of the
            model. Defaults to None.

    Raises:
        ValueError: for a bad schedule or a negative `init_stddev`; at the start of
            training when the model has no `SparseChannelConv2D`; during training
            when the schedule decreases.
    """

    def __init__(self, schedule, init_stddev: float = 0.0, layers=None):
        super().__init__()
        self.schedule = schedules_lib.get(schedule)
        if not init_stddev >= 0:
            raise ValueError(f"`init_stddev` must be >= 0, got {init_stddev}.")
        self.init_stddev = float(init_stddev)
        self.layers = None if layers is None else list(layers)
        self._targets: list[SparseChannelConv2D] = []
        self._last: dict[int, float] = {}

    def schedule_for(self, layer: SparseChannelConv2D) -> schedules_lib.DensificationSchedule:
        """Returns the schedule that drives `layer`."""
        return self.schedule

    def on_train_begin(self, logs=None):
        self._targets = self.layers if self.layers is not None else _channel_layers(self.model)
        if not self._targets:
            raise ValueError(
                f"{type(self).__name__} found no SparseChannelConv2D layer in model "
                f"{self.model.name!r}: build the model with tf_pe.layers.SparseChannelConv2D "
                "or tf_pe.sparsify(model, method='channel').")
        self._last = {}

    def on_train_batch_begin(self, batch, logs=None):
        for layer in self._targets:
            step = int(keras.ops.convert_to_numpy(layer.densify_step))
            density = self.schedule_for(layer)(step)
            last = self._last.get(id(layer))
            if last is not None and density < last - _SHRINK_TOLERANCE:
                raise ValueError(
                    f"`schedule` must not decrease: density {density} at step {step} is "
                    f"below {last} at an earlier step.")
            if density != last:
                densify_layer(layer, density, step, self.init_stddev)
                self._last[id(layer)] = density

    def on_train_batch_end(self, batch, logs=None):
        for layer in self._targets:
            layer.densify_step.assign_add(1)


class DensifyEvery(Densify):
    """Multiplies each layer's density by `factor` every `steps` training steps
    (Changpinyo et al. 2017, sec. 5.3):
    `density(step) = min(final_density, initial * factor ** (step // steps))`.

    Args:
        steps: the period `T` in training steps, >= 1.
        factor: the multiplier, > 1. Defaults to 2.
        initial_density: the density at step 0; None to start every layer from the
            density it was built with (its `density` argument). Defaults to None.
        final_density: where densification stops, in (0, 1]. Defaults to 1.
        init_stddev: see `Densify`. Defaults to 0.

    Raises:
        ValueError: naming the argument that is out of range (also when a layer's
            own density exceeds `final_density`).
    """

    def __init__(self, steps: int, factor: float = 2.0, initial_density: float | None = None,
                 final_density: float = 1.0, init_stddev: float = 0.0):
        steps = schedules_lib._check_steps("steps", steps)  # the schedule calls it `every`
        start = 1e-3 if initial_density is None else initial_density
        schedule = schedules_lib.DoublingSchedule(start, steps, factor, final_density)
        super().__init__(schedule, init_stddev=init_stddev)
        self.steps = schedule.every
        self.factor = schedule.factor
        self.initial_density = initial_density
        self.final_density = schedule.final_density
        self._per_layer: dict[int, schedules_lib.DoublingSchedule] = {}

    def schedule_for(self, layer):
        if self.initial_density is not None:
            return self.schedule
        if id(layer) not in self._per_layer:
            self._per_layer[id(layer)] = schedules_lib.DoublingSchedule(
                layer.density, self.steps, self.factor, self.final_density)
        return self._per_layer[id(layer)]

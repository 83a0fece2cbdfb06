"""The machinery shared by callbacks that move masks during training.

`MaskUpdateCallback` finds the masked layers of a model, decides when to act
from the optimizer's step counter (saved with the model and in checkpoints, so a
resumed run acts at the same steps), skips an update when the loss or a weight
is not finite, times itself, and records what every update did. Subclasses
(`DynamicSparseReparam`, `SET`, `GradualMagnitudePruning`) implement `update`.

Masks are changed in *units*: single weights, or with `granularity="channel"`
whole kernel slices `[..., i, o]` (see `tf_pe.layers.masked.mask_units`).
Whenever a position is switched off or on, its weight and its optimizer slots
(momentum, Adam's moments, ...) are set to zero, so a pruned weight stays at
zero and a regrown one starts from zero with no stale momentum.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable

import keras
import numpy as np
from absl import logging

from tf_pe.layers.masked import _UNSET_THRESHOLD, GRANULARITIES, MASKED_LAYERS, mask_units
from tf_pe.sparsity.protocol import find_sparse_layers

Period = int | Callable[[int], int]


@keras.saving.register_keras_serializable(package="tf_pe")
class PeriodSchedule:
    """A period that grows linearly from `start` to `end` steps over `steps`.

    Mostafa & Wang's ImageNet runs reparameterize every 100 steps at first and
    every 800 at the end.

    Args:
        start: the period at step 0, >= 1.
        end: the period from step `steps` on, >= 1.
        steps: steps over which the period moves from `start` to `end`, >= 1.

    Raises:
        ValueError: naming an argument that is not an integer >= 1.
    """

    def __init__(self, start: int, end: int, steps: int):
        for name, value in (("start", start), ("end", end), ("steps", steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
        self.start, self.end, self.steps = start, end, steps

    def __call__(self, step: int) -> int:
        frac = min(max(step, 0) / self.steps, 1.0)
        return max(1, round(self.start + frac * (self.end - self.start)))

    def get_config(self) -> dict:
        return {"start": self.start, "end": self.end, "steps": self.steps}

    @classmethod
    def from_config(cls, config: dict) -> PeriodSchedule:
        return cls(**config)


def check_period(period: Period) -> Period:
    """Returns `period` if it is an integer >= 1 or a callable `step -> period`.

    Raises:
        ValueError: naming `period` otherwise.
    """
    if callable(period):
        return period
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise ValueError(f"`period` must be an integer >= 1 or a schedule, got {period!r}.")
    return period


def masked_layers(model: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Returns the `tf_pe.layers.Masked*` layers of `model`.

    Raises:
        ValueError: naming `model` when it has none.
    """
    layers = [layer for layer in find_sparse_layers(model) if isinstance(layer, MASKED_LAYERS)]
    if not layers:
        raise ValueError(
            "`model` has no masked layers (tf_pe.layers.MaskedDense, MaskedConv2D, "
            "MaskedDepthwiseConv2D): build it with them or with "
            "tf_pe.sparsify(model, method='masked').")
    return layers


def optimizer_slots(optimizer, variable) -> list:
    """Returns the optimizer variables that belong to `variable` (momentum,
    Adam's moments, accumulated gradients, moving averages), or [] before the
    optimizer is built."""
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    # Keras keeps slots in lists aligned with its trainable variables; the
    # index map is keyed by the backend's variable key.
    indices = getattr(optimizer, "_trainable_variables_indices", None) or {}
    index = indices.get(optimizer._var_key(variable))
    if index is None:
        return []
    n = len(optimizer._trainable_variables)
    slots = []
    for value in vars(optimizer).values():
        if not isinstance(value, list) or len(value) != n or value is optimizer._variables:
            continue
        slot = value[index]
        if (isinstance(slot, keras.Variable) and slot is not variable
                and tuple(slot.shape) == tuple(variable.shape)):
            slots.append(slot)
    return slots


class MaskedKernel:
    """A masked layer's kernel and mask as numpy arrays, viewed as units.

    Attributes:
        layer: the masked layer.
        group: entries per unit.
        kernel: the kernel, shaped `[group, units]`.
        active: the mask, boolean, shaped `[units]`.
    """

    def __init__(self, layer, granularity: str):
        self.layer = layer
        shape = tuple(layer.kernel.shape)
        self.group, units = mask_units(shape, granularity)
        self.kernel = np.asarray(layer.kernel.numpy(), np.float32).reshape(self.group, units)
        mask = np.asarray(layer.mask.numpy()).reshape(self.group, units) != 0
        if granularity == "channel" and not (mask.all(axis=0) | ~mask.any(axis=0)).all():
            raise ValueError(
                f"`granularity`='channel' needs masks that are constant over kernel slices; "
                f"layer {layer.name!r} has an elementwise mask: build it with "
                "granularity='channel'.")
        self.active = mask.all(axis=0)

    @property
    def units(self) -> int:
        return self.active.size

    def magnitude(self) -> np.ndarray:
        """Mean absolute value of each unit."""
        return np.abs(self.kernel).mean(axis=0)

    def write(self, active: np.ndarray, optimizer, kept: np.ndarray | None = None
              ) -> tuple[int, int]:
        """Assigns the new mask `active`; zeroes the weights and optimizer slots
        of every unit that was pruned or grown (everything active before or
        after that is not in `kept`, by default the units active before and
        after, so a unit pruned and regrown at once restarts from zero).
        Returns (entries pruned, entries grown)."""
        if kept is None:
            kept = self.active & active
        pruned = self.active & ~kept
        grown = active & ~kept
        changed = np.broadcast_to(pruned | grown, self.kernel.shape)
        shape = tuple(self.layer.kernel.shape)
        kernel = np.where(changed | ~active, 0.0, self.kernel).astype(np.float32)
        mask = np.broadcast_to(active, self.kernel.shape).astype(np.float32)
        self.layer.kernel.assign(kernel.reshape(shape))
        self.layer.mask.assign(mask.reshape(shape))
        if changed.any():
            keep = (~changed).reshape(shape)
            for slot in optimizer_slots(optimizer, self.layer.kernel):
                slot.assign(np.where(keep, slot.numpy(), 0).astype(slot.dtype))
        self.active = active
        return int(pruned.sum()) * self.group, int(grown.sum()) * self.group


def grow_random(active: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Returns a copy of `active` with `count` inactive units switched on at random."""
    grown = active.copy()
    inactive = np.flatnonzero(~active)
    count = min(count, inactive.size)
    if count > 0:
        grown[rng.choice(inactive, size=count, replace=False)] = True
    return grown


class MaskUpdateCallback(keras.callbacks.Callback):
    """Base class: calls `update(step, kernels)` every `period` optimizer steps.

    Args:
        period: steps between updates, an integer >= 1 or a schedule
            `step -> period` (for example `PeriodSchedule`).
        stop_step: no update at or after this step; None for never.
        granularity: `"weight"` or `"channel"`.
        log_dir: a directory for TensorBoard summaries, or None.
        record_path: a JSON file that receives `history` and `report()` at the
            end of training, or None.
        verbose: print `report()` at the end of training.
    """

    name = "mask update"

    def __init__(self, period: Period, stop_step: int | None, granularity: str,
                 log_dir: str | None, record_path: str | None, verbose: bool):
        super().__init__()
        self.period = check_period(period)
        if stop_step is not None and (isinstance(stop_step, bool)
                                      or not isinstance(stop_step, int) or stop_step < 1):
            raise ValueError(f"`stop_step` must be None or an integer >= 1, got {stop_step!r}.")
        if granularity not in GRANULARITIES:
            raise ValueError(
                f"`granularity` must be one of {', '.join(GRANULARITIES)}; got {granularity!r}.")
        self.stop_step = stop_step
        self.granularity = granularity
        self.log_dir = log_dir
        self.record_path = record_path
        self.verbose = verbose
        self.history: list[dict] = []
        self.seconds = 0.0
        self.train_seconds = 0.0
        self._layers: list = []
        self._last_step = 0
        self._next_step = 0
        self._synced = False
        self._epoch_start = 0
        self._writer = None

    # -- subclass interface -------------------------------------------------

    def update(self, step: int, kernels: list[MaskedKernel]) -> dict:
        """Changes the masks at `step`; returns a record (pruned, regrown, ...)."""
        raise NotImplementedError

    def setup(self, layers: list) -> None:
        """Called once at the start of training with the masked layers."""

    # -- Keras hooks ----------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._layers = masked_layers(self.model)
        self._sync()
        self._synced = False  # read again at the first batch (see below)
        self._train_start = time.perf_counter()
        if self.log_dir and self._writer is None:
            from tf_pe.callbacks.summaries import ReparamSummaryWriter

            self._writer = ReparamSummaryWriter(self.log_dir)

    def on_train_batch_begin(self, batch, logs=None):
        # Callbacks that run after this one in `on_train_begin` may restore the
        # step counter, masks and threshold (`keras.callbacks.BackupAndRestore`
        # placed later in the list): read them again before the first step.
        if not self._synced:
            self._sync()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = len(self.history)

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        last, self._last_step = self._last_step, step
        if step <= last or (self.stop_step is not None and step >= self.stop_step):
            return
        if step < self._next_step and not self.force_update(last, step):
            return
        self._next_step = self._next_after(self._next_step, step)
        start = time.perf_counter()
        loss = (logs or {}).get("loss")
        kernels = [MaskedKernel(layer, self.granularity) for layer in self._layers]
        if (loss is not None and not math.isfinite(float(loss))) or not all(
                np.isfinite(k.kernel).all() for k in kernels):
            record = {"step": step, "skipped": "non-finite loss or weights"}
            logging.warning("%s: step %d skipped: the loss or a weight is not finite; "
                            "masks left unchanged.", self.name, step)
        else:
            record = {"step": step, **self.update(step, kernels)}
            record["density"] = {k.layer.name: float(k.active.mean()) for k in kernels}
        record["seconds"] = time.perf_counter() - start
        self.seconds += record["seconds"]
        self.history.append(record)
        if self._writer is not None:
            self._writer.write(record)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        records = [r for r in self.history[self._epoch_start:] if "skipped" not in r]
        logs["reparam_steps"] = float(len(records))
        logs["reparam_pruned"] = float(sum(r.get("pruned", 0) for r in records))
        logs["reparam_regrown"] = float(sum(r.get("regrown", 0) for r in records))
        if self._layers and self._layers[0].threshold.numpy() != _UNSET_THRESHOLD:
            logs["reparam_threshold"] = float(self._layers[0].threshold.numpy())

    def on_train_end(self, logs=None):
        self.train_seconds += time.perf_counter() - self._train_start
        if self._writer is not None:
            self._writer.flush()
        if self.record_path:
            with open(self.record_path, "w") as f:
                json.dump({"report": self.report(), "summary": self.summary(),
                           "history": self.history}, f, indent=1)
        if self.verbose:
            print(self.report())

    def force_update(self, last: int, step: int) -> bool:
        """Whether to update between `last` and `step` outside the period."""
        return False

    # -- reporting ------------------------------------------------------------

    def summary(self) -> dict:
        """Totals over training: steps, skipped steps, pruned, regrown, seconds."""
        done = [r for r in self.history if "skipped" not in r]
        active = sum(int(np.count_nonzero(layer.mask.numpy())) for layer in self._layers)
        size = sum(int(np.prod(layer.mask.shape)) for layer in self._layers)
        return {
            "steps": len(done), "skipped": len(self.history) - len(done),
            "pruned": sum(r.get("pruned", 0) for r in done),
            "regrown": sum(r.get("regrown", 0) for r in done),
            "active": active, "size": size, "seconds": self.seconds,
            "train_seconds": self.train_seconds,
            "share": self.seconds / self.train_seconds if self.train_seconds else None,
        }

    def report(self) -> str:
        """One line: what the callback did over training."""
        s = self.summary()
        skipped = f" ({s['skipped']} skipped: non-finite loss)" if s["skipped"] else ""
        share = f", {100 * s['share']:.2f}% of training time" if s["share"] else ""
        threshold = ""
        if self._layers and self._layers[0].threshold.numpy() != _UNSET_THRESHOLD:
            threshold = f"; threshold H={float(self._layers[0].threshold.numpy()):.3g}"
        density = s["active"] / s["size"] if s["size"] else 0.0
        return (f"{self.name}: {s['steps']} steps{skipped}, {s['pruned']:,} pruned / "
                f"{s['regrown']:,} regrown{threshold}; {s['active']:,} of {s['size']:,} "
                f"weights active ({100 * density:.2f}%); {s['seconds']:.2f} s{share}.")

    # -- helpers --------------------------------------------------------------

    def _next_after(self, start: int, step: int) -> int:
        """The first update step after `step`: updates happen at `s_0 = 0`,
        `s_{k+1} = s_k + period(s_k)`, a function of the step alone, so a
        resumed run updates at the same steps. `start` is a known `s_k <= step`."""
        s = start
        while s <= step:
            s += self.period(s) if callable(self.period) else self.period
        return s

    def _sync(self) -> None:
        """Reads the step counter and the layers' state; calls `setup`."""
        self._last_step = self._step()
        self._next_step = self._next_after(0, self._last_step)
        self.setup(self._layers)
        self._synced = True

    def _step(self) -> int:
        return int(self.model.optimizer.iterations.numpy())

    def _rng(self, kernel: MaskedKernel, step: int) -> np.random.Generator:
        return np.random.default_rng([int(kernel.layer.mask_seed.numpy()) % 2**63, step])

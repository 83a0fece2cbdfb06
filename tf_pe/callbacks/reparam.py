"""Dynamic sparse reparameterization (DSR): a global adaptive threshold prunes,
and the freed parameters regrow where the survivors are.

Mostafa & Wang, ICML 2019, "Parameter Efficient Training of Deep Convolutional
Neural Networks by Dynamic Sparse Reparameterization", Algorithm 1. Every
`period` steps, with the sparse kernels `W_1..W_L`, a global threshold `H`, a
target number of pruned parameters `N_p` and a tolerance `delta`:

1. prune every active weight with `|w| < H`; `K_l` are pruned in layer `l`, `R_l`
   survive, `K = sum_l K_l`;
2. adapt the threshold: `H <- gain * H` if `K < (1 - delta) N_p`,
   `H <- H / gain` if `K > (1 + delta) N_p`;
3. regrow `K` connections, `G_l = K R_l / sum_l R_l` in layer `l` (rounded by
   largest remainders so that they sum to `K`), at random inactive positions,
   starting from zero.

The number of active parameters stays constant; no per-layer density is
imposed; no sorting is needed. `H` lives in the masked layers' `threshold`
variables, so it is saved with the model and restored with checkpoints.
"""

from __future__ import annotations

import keras
import numpy as np

from tf_pe.callbacks.mask_update import MaskedKernel, MaskUpdateCallback, Period, grow_random
from tf_pe.layers.masked import _UNSET_THRESHOLD


def allocate_regrowth(total: int, survivors, capacity) -> list[int]:
    """Splits `total` regrown parameters over layers in proportion to survivors.

    `G_l = total * R_l / sum R` rounded by largest remainders (ties to the
    earlier layer), then capped at each layer's `capacity` (free positions);
    what a full layer cannot take goes to the others, again in proportion to
    their survivors (or to their capacity when no layer has survivors).

    Args:
        total: parameters to regrow, >= 0.
        survivors: `R_l`, active parameters per layer after pruning.
        capacity: free positions per layer.

    Returns:
        `G_l` per layer; they sum to `min(total, sum(capacity))`.

    Raises:
        ValueError: naming `total`, `survivors` or `capacity` when invalid.
    """
    if isinstance(total, bool) or not isinstance(total, int | np.integer) or total < 0:
        raise ValueError(f"`total` must be an integer >= 0, got {total!r}.")
    survivors = np.asarray(survivors, dtype=np.float64)
    capacity = np.asarray(capacity, dtype=np.int64)
    if survivors.ndim != 1 or (survivors < 0).any():
        raise ValueError(f"`survivors` must be a list of counts >= 0, got {survivors!r}.")
    if capacity.shape != survivors.shape or (capacity < 0).any():
        raise ValueError(f"`capacity` must hold one count >= 0 per layer ({survivors.size}), "
                         f"got {capacity!r}.")
    grown = np.zeros(len(survivors), dtype=np.int64)
    left = min(int(total), int(capacity.sum()))
    while left > 0:
        open_ = grown < capacity
        weights = np.where(open_, survivors, 0.0)
        if weights.sum() <= 0:
            weights = np.where(open_, (capacity - grown).astype(np.float64), 0.0)
        share = left * weights / weights.sum()
        part = np.floor(share).astype(np.int64)
        rest = left - int(part.sum())
        order = np.argsort(-(share - part), kind="stable")
        part[order[:rest]] += 1
        part = np.minimum(part, capacity - grown)
        grown += part
        left -= int(part.sum())
    return [int(g) for g in grown]


@keras.saving.register_keras_serializable(package="tf_pe")
class DynamicSparseReparam(MaskUpdateCallback):
    """Moves parameters within and across masked layers with one global threshold.

    Implements Algorithm 1 of Mostafa & Wang, ICML 2019 (see the module
    docstring). Works on the `tf_pe.layers.Masked*` layers of the model;
    layers left as plain Keras layers (biases, batch norm, kept-dense first and
    last layers) are not touched.

    Args:
        period: steps between reparameterizations, an integer >= 1 or a
            schedule `step -> period` such as `PeriodSchedule(100, 800, steps)`.
            Defaults to 200.
        target_prune_count: `N_p`, parameters to prune per step. Give this or
            `target_prune_fraction`. Defaults to None.
        target_prune_fraction: `N_p` as a fraction, in (0, 1), of the active
            parameters at the start of training. Defaults to 0.02 when
            `target_prune_count` is None.
        initial_threshold: `H` at the start of the first run (a resumed run
            keeps the saved `H`), > 0. Defaults to 1e-3.
        tolerance: `delta`, in (0, 1). Defaults to 0.1.
        gain: the factor by which `H` grows or shrinks, > 1. Defaults to 2.
        stop_step: no reparameterization at or after this step. Defaults to
            None (never stop).
        granularity: `"weight"` or `"channel"` (prune and regrow whole
            `kh x kw` kernel slices, which needs layers built with
            `granularity="channel"`). Defaults to `"weight"`.
        log_dir: TensorBoard log directory. Defaults to None.
        record_path: a JSON file for the history and report. Defaults to None.
        verbose: print the one-line report at the end of training. Defaults
            to False.

    Raises:
        ValueError: naming the argument that is out of range, or (at the
            start of training) a model without masked layers.
    """

    name = "DSR"

    def __init__(self, period: Period = 200, target_prune_count: int | None = None,
                 target_prune_fraction: float | None = None, initial_threshold: float = 1e-3,
                 tolerance: float = 0.1, gain: float = 2.0, stop_step: int | None = None,
                 granularity: str = "weight", log_dir: str | None = None,
                 record_path: str | None = None, verbose: bool = False):
        super().__init__(period, stop_step, granularity, log_dir, record_path, verbose)
        if target_prune_count is not None and target_prune_fraction is not None:
            raise ValueError("Give `target_prune_count` or `target_prune_fraction`, not both.")
        if target_prune_count is not None and (
                isinstance(target_prune_count, bool) or not isinstance(target_prune_count, int)
                or target_prune_count < 1):
            raise ValueError(
                f"`target_prune_count` must be an integer >= 1, got {target_prune_count!r}.")
        if target_prune_count is None and target_prune_fraction is None:
            target_prune_fraction = 0.02
        if target_prune_fraction is not None and not 0 < target_prune_fraction < 1:
            raise ValueError(
                f"`target_prune_fraction` must be in (0, 1), got {target_prune_fraction!r}.")
        if not initial_threshold > 0:
            raise ValueError(f"`initial_threshold` must be > 0, got {initial_threshold!r}.")
        if not 0 < tolerance < 1:
            raise ValueError(f"`tolerance` must be in (0, 1), got {tolerance!r}.")
        if not gain > 1:
            raise ValueError(f"`gain` must be > 1, got {gain!r}.")
        self.target_prune_count = target_prune_count
        self.target_prune_fraction = target_prune_fraction
        self.initial_threshold = float(initial_threshold)
        self.tolerance = float(tolerance)
        self.gain = float(gain)
        self._target = target_prune_count

    def setup(self, layers):
        for layer in layers:
            if float(layer.threshold.numpy()) == _UNSET_THRESHOLD:
                layer.threshold.assign(self.initial_threshold)
        # All layers carry the same H; the first one's is authoritative.
        threshold = float(layers[0].threshold.numpy())
        for layer in layers[1:]:
            layer.threshold.assign(threshold)
        if self.target_prune_count is None:
            active = sum(int(np.count_nonzero(layer.mask.numpy())) for layer in layers)
            self._target = max(1, round(self.target_prune_fraction * active))

    @property
    def threshold(self) -> float:
        """The current global threshold `H` (NaN before training starts)."""
        if not self._layers:
            return float("nan")
        return float(self._layers[0].threshold.numpy())

    def update(self, step: int, kernels: list[MaskedKernel]) -> dict:
        threshold = self.threshold
        pruned_masks, removed, survivors, capacity = [], [], [], []
        for k in kernels:
            keep = k.active & (k.magnitude() >= threshold)
            pruned_masks.append(keep)
            removed.append(int((k.active & ~keep).sum()) * k.group)
            survivors.append(int(keep.sum()) * k.group)
            capacity.append(int((~keep).sum()) * k.group)
        pruned = sum(removed)
        target = self._target
        if pruned < (1 - self.tolerance) * target:
            new_threshold = threshold * self.gain
        elif pruned > (1 + self.tolerance) * target:
            new_threshold = threshold / self.gain
        else:
            new_threshold = threshold
        grow = allocate_regrowth(pruned, survivors, capacity)
        carry = 0
        total_pruned = total_grown = 0
        optimizer = self.model.optimizer
        for k, keep, g in zip(kernels, pruned_masks, grow, strict=True):
            # Whole slices: grow g // group units and carry the rest over, so the
            # total moves by less than one slice per step.
            units, carry = divmod(g + carry, k.group)
            active = grow_random(keep, units, self._rng(k, step))
            carry += (units - int((active & ~keep).sum())) * k.group
            p, r = k.write(active, optimizer, kept=keep)
            total_pruned += p
            total_grown += r
        for k in kernels:
            k.layer.threshold.assign(new_threshold)
        return {"threshold": new_threshold, "pruned": pruned, "regrown": sum(grow) - carry,
                "target": target, "per_layer_pruned": removed, "per_layer_regrown": grow}

    def get_config(self) -> dict:
        period = self.period
        if callable(period) and hasattr(period, "get_config"):
            period = keras.saving.serialize_keras_object(period)
        return {
            "period": period, "target_prune_count": self.target_prune_count,
            "target_prune_fraction": self.target_prune_fraction,
            "initial_threshold": self.initial_threshold, "tolerance": self.tolerance,
            "gain": self.gain, "stop_step": self.stop_step, "granularity": self.granularity,
            "log_dir": self.log_dir, "record_path": self.record_path, "verbose": self.verbose,
        }

    @classmethod
    def from_config(cls, config: dict) -> DynamicSparseReparam:
        config = dict(config)
        if isinstance(config["period"], dict):
            config["period"] = keras.saving.deserialize_keras_object(config["period"])
        return cls(**config)

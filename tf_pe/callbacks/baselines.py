"""The baselines DSR is measured against, on the same masked layers.

* static sparse training: no callback at all (the masks never move);
* `SET`: Sparse Evolutionary Training (Mocanu et al., Nature Communications
  2018): every `period` steps each layer prunes the fraction `zeta` of its
  active weights with the smallest magnitude and regrows as many at random
  inactive positions, starting from zero (per-layer densities never change);
* `GradualMagnitudePruning`: from dense to sparse (Zhu & Gupta 2017, "To prune,
  or not to prune"): at step `t` every layer keeps its largest-magnitude
  weights so that its sparsity is
  `s_t = s_f + (s_i - s_f) (1 - (t - t_0) / (t_1 - t_0))^3` for
  `t_0 <= t <= t_1`, updated every `period` steps; pruned weights never regrow.
* thin dense: the zoo's `depth_multiplier` (no callback).
"""

from __future__ import annotations

import numpy as np

from tf_pe.callbacks.mask_update import MaskedKernel, MaskUpdateCallback, Period, grow_random


def _keep_largest(k: MaskedKernel, count: int) -> np.ndarray:
    """The `count` active units of largest magnitude (ties to the lower index)."""
    active = np.zeros_like(k.active)
    if count > 0:
        candidates = np.flatnonzero(k.active)
        order = np.argsort(-k.magnitude()[candidates], kind="stable")
        active[candidates[order[:count]]] = True
    return active


class SET(MaskUpdateCallback):
    """Sparse Evolutionary Training: per-layer magnitude prune, random regrow.

    Args:
        zeta: fraction of each layer's active weights replaced per step, in
            (0, 1). Defaults to 0.3 (Mocanu et al. 2018).
        period: steps between updates, an integer >= 1 or a schedule.
            Defaults to 200.
        stop_step: no update at or after this step. Defaults to None.
        granularity: `"weight"` or `"channel"`. Defaults to `"weight"`.
        log_dir: TensorBoard log directory. Defaults to None.
        record_path: a JSON file for the history and report. Defaults to None.
        verbose: print the one-line report at the end of training. Defaults to False.

    Raises:
        ValueError: naming the argument that is out of range.
    """

    name = "SET"

    def __init__(self, zeta: float = 0.3, period: Period = 200, stop_step: int | None = None,
                 granularity: str = "weight", log_dir: str | None = None,
                 record_path: str | None = None, verbose: bool = False):
        super().__init__(period, stop_step, granularity, log_dir, record_path, verbose)
        if not 0 < zeta < 1:
            raise ValueError(f"`zeta` must be in (0, 1), got {zeta!r}.")
        self.zeta = float(zeta)

    def update(self, step, kernels):
        pruned = regrown = 0
        for k in kernels:
            n_active = int(k.active.sum())
            n_prune = round(self.zeta * n_active)
            keep = _keep_largest(k, n_active - n_prune)
            active = grow_random(keep, n_prune, self._rng(k, step))
            pruned += n_prune * k.group
            regrown += int((active & ~keep).sum()) * k.group
            k.write(active, self.model.optimizer, kept=keep)
        return {"pruned": pruned, "regrown": regrown}


class GradualMagnitudePruning(MaskUpdateCallback):
    """Prunes from dense to `final_density` on Zhu & Gupta's cubic schedule.

    Args:
        final_density: `1 - s_f`, the density every masked layer ends at, in
            (0, 1]; or a dict mapping layer names to their final densities (for
            example the ERK densities of `tf_pe.sparsity.distributions`).
        end_step: `t_1`, the step at which the final density is reached, >= 1.
        begin_step: `t_0`, >= 0 and < `end_step`. Defaults to 0.
        initial_density: `1 - s_i`, in (0, 1]. Defaults to 1.
        period: steps between pruning steps, an integer >= 1. Defaults to 100.
        granularity: `"weight"` or `"channel"`. Defaults to `"weight"`.
        log_dir: TensorBoard log directory. Defaults to None.
        record_path: a JSON file for the history and report. Defaults to None.
        verbose: print the one-line report at the end of training. Defaults to False.

    Raises:
        ValueError: naming the argument that is out of range.
    """

    name = "GMP"

    def __init__(self, final_density: float | dict[str, float], end_step: int,
                 begin_step: int = 0,
                 initial_density: float = 1.0, period: Period = 100,
                 granularity: str = "weight", log_dir: str | None = None,
                 record_path: str | None = None, verbose: bool = False):
        super().__init__(period, None, granularity, log_dir, record_path, verbose)
        finals = final_density.values() if isinstance(final_density, dict) else [final_density]
        for name, value in [*(("final_density", v) for v in finals),
                            ("initial_density", initial_density)]:
            if not 0 < value <= 1:
                raise ValueError(f"`{name}` must be in (0, 1], got {value!r}.")
        if isinstance(end_step, bool) or not isinstance(end_step, int) or end_step < 1:
            raise ValueError(f"`end_step` must be an integer >= 1, got {end_step!r}.")
        if isinstance(begin_step, bool) or not isinstance(begin_step, int) or not (
                0 <= begin_step < end_step):
            raise ValueError(
                f"`begin_step` must be an integer in [0, end_step), got {begin_step!r}.")
        self.final_density = (dict(final_density) if isinstance(final_density, dict)
                              else float(final_density))
        self.initial_density = float(initial_density)
        self.begin_step = begin_step
        self.end_step = end_step

    def setup(self, layers):
        if isinstance(self.final_density, dict):
            missing = {layer.name for layer in layers} - set(self.final_density)
            if missing:
                raise ValueError(f"`final_density` has no density for layers {sorted(missing)}.")

    def final_density_of(self, name: str) -> float:
        """The final density of the layer called `name`."""
        if isinstance(self.final_density, dict):
            return self.final_density[name]
        return self.final_density

    def density_at(self, step: int, name: str | None = None) -> float:
        """The scheduled density at `step` (Zhu & Gupta's cubic) of layer `name`
        (any layer when `final_density` is one number)."""
        frac = min(max((step - self.begin_step) / (self.end_step - self.begin_step), 0.0), 1.0)
        s_i, s_f = 1 - self.initial_density, 1 - self.final_density_of(name)
        return 1 - (s_f + (s_i - s_f) * (1 - frac) ** 3)

    def force_update(self, last, step):
        return last < self.end_step <= step

    def update(self, step, kernels):
        if step < self.begin_step:
            return {"pruned": 0, "regrown": 0}
        pruned = 0
        for k in kernels:
            density = self.density_at(step, k.layer.name)
            keep = min(int(k.active.sum()), max(1, round(density * k.units)))
            p, _ = k.write(_keep_largest(k, keep), self.model.optimizer)
            pruned += p
        return {"pruned": pruned, "regrown": 0}

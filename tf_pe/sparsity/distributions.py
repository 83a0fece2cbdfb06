"""Initial per-layer densities that add up to one global density.

* `"uniform"`: every sparse layer gets the same density.
* `"erk"`: Erdos-Renyi-kernel (Evci et al. 2020, "Rigging the Lottery", after
  the Erdos-Renyi scheme of Mocanu et al. 2018): layer `l` with kernel shape
  `(k_1, ..., k_r, n_in, n_out)` gets density `eps * sum(shape) / prod(shape)`,
  `eps` chosen so that `sum_l d_l n_l = D sum_l n_l`; a layer whose density
  would exceed 1 is made dense and `eps` is solved again over the others.

Layers kept dense (the first and last, optionally) count with density 1 in the
global budget, so the other layers are sparser to compensate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

DISTRIBUTIONS = ("uniform", "erk")


def layer_densities(shapes: Sequence[Sequence[int]], density: float,
                    distribution: str = "uniform", dense: Sequence[int] = ()) -> list[float]:
    """Returns per-layer densities whose parameter-weighted mean is `density`.

    Args:
        shapes: kernel shapes of the layers, in order.
        density: the global density `D`, in (0, 1].
        distribution: `"uniform"` or `"erk"`. Defaults to `"uniform"`.
        dense: indices of layers to keep at density 1. Defaults to ().

    Returns:
        One density in (0, 1] per layer.

    Raises:
        ValueError: for a density outside (0, 1], an unknown distribution, a
            bad index in `dense`, or a density too low for the dense layers
            alone.
    """
    if not 0 < density <= 1:
        raise ValueError(f"`density` must be in (0, 1], got {density!r}.")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(
            f"`distribution` must be one of {', '.join(DISTRIBUTIONS)}; got {distribution!r}.")
    sizes = [math.prod(int(d) for d in shape) for shape in shapes]
    dense = set(dense)
    if any(not 0 <= i < len(sizes) for i in dense):
        raise ValueError(f"`dense` indices must be in [0, {len(sizes)}), got {sorted(dense)}.")
    budget = density * sum(sizes) - sum(sizes[i] for i in dense)
    sparse = [i for i in range(len(sizes)) if i not in dense]
    if sparse and budget <= 0:
        raise ValueError(
            f"`density`={density} is too low: the layers kept dense alone exceed it.")
    if distribution == "uniform":
        weights = {i: 1.0 for i in sparse}
    else:
        weights = {i: sum(shapes[i]) / sizes[i] for i in sparse}
    result = [1.0] * len(sizes)
    while sparse:
        eps = budget / sum(weights[i] * sizes[i] for i in sparse)
        full = [i for i in sparse if eps * weights[i] >= 1.0]
        if not full:
            for i in sparse:
                result[i] = eps * weights[i]
            break
        for i in full:
            budget -= sizes[i]
            sparse.remove(i)
    return result

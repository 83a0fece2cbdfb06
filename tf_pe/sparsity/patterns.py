"""Channel connection patterns: which input channels feed which output channels.

A *connection mask* is a 0/1 array of shape `[in_channels, out_channels]`; entry
`(i, j)` says whether output channel `j` sees input channel `i`. Applied to a
convolution kernel `[kh, kw, in, out]` it keeps or removes whole `kh x kw` slices,
the same connection at every spatial position ("sparse random" of Changpinyo,
Sandler, Zhmoginov 2017, "The Power of Sparsity in Convolutional Neural Networks",
sec. 3.2).

Rules followed here, from the paper's sec. 5.1-5.2.1:

* A fraction `density` of the `in * out` connections is active; where a side has a
  single channel (`in == 1` or `out == 1`) the fraction is `sqrt(density)` instead.
  The exact count is `round(fraction * in * out)`, raised to `max(in, out)` when
  that is needed to keep every channel connected (see `active_count`).
* No dead filters: every output channel has at least one input and every input
  channel feeds at least one output.

Patterns:

* `"random"`: connections drawn uniformly at random among those that keep the
  no-dead-filter rule: a random covering of `max(in, out)` connections (one per
  channel on the larger side, every channel on the smaller side hit), then the
  rest uniformly among the remaining pairs.
* `"block"`: output channels fall into contiguous groups; all outputs of a group
  see the same `k` inputs, and the groups' input subsets cover every input channel.
  This is the regular layout a fast kernel wants (one small dense convolution per
  group). Its count is `out * k` with `k = max(round(fraction * in), ceil(in / out))`,
  which may differ slightly from `active_count`.

Everything is pure NumPy and deterministic given `seed`.
"""

from __future__ import annotations

import math

import numpy as np

PATTERNS = ("random", "block")


def check_density(density: float, name: str = "density") -> float:
    """Validates a connection density.

    Args:
        density: a real number in (0, 1].
        name: the argument name used in the error message. Defaults to `"density"`.

    Returns:
        `density` as a float.

    Raises:
        ValueError: if `density` is not a real number in (0, 1].
    """
    if isinstance(density, bool) or not isinstance(density, int | float | np.floating):
        raise ValueError(f"`{name}` must be a number in (0, 1], got {density!r}.")
    if not 0 < density <= 1:
        raise ValueError(f"`{name}` must be in (0, 1], got {density}.")
    return float(density)


def check_pattern(pattern: str) -> str:
    """Validates a pattern name.

    Raises:
        ValueError: if `pattern` is not one of `PATTERNS`.
    """
    if pattern not in PATTERNS:
        raise ValueError(f"`pattern` must be one of {', '.join(PATTERNS)}; got {pattern!r}.")
    return pattern


def _check_channels(in_channels: int, out_channels: int) -> None:
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")


def layer_fraction(in_channels: int, out_channels: int, density: float) -> float:
    """The fraction of connections a layer keeps: `density`, or `sqrt(density)` when
    a side has one channel (Changpinyo et al. 2017, sec. 5.2.1).

    Raises:
        ValueError: for channel counts < 1 or a density outside (0, 1].
    """
    _check_channels(in_channels, out_channels)
    density = check_density(density)
    if in_channels == 1 or out_channels == 1:
        return math.sqrt(density)
    return density


def active_count(in_channels: int, out_channels: int, density: float) -> int:
    """The number of active connections of a `"random"` mask:
    `clip(round(f * in * out), max(in, out), in * out)` with `f = layer_fraction(...)`.

    The lower bound `max(in, out)` is the fewest connections without dead filters.

    Raises:
        ValueError: for channel counts < 1 or a density outside (0, 1].
    """
    fraction = layer_fraction(in_channels, out_channels, density)
    total = in_channels * out_channels
    return int(min(total, max(round(fraction * total), max(in_channels, out_channels))))


def _covering(in_channels: int, out_channels: int, rng: np.random.Generator) -> np.ndarray:
    """A random set of `max(in, out)` connections without dead filters."""
    rows = rng.permutation(in_channels)
    cols = rng.permutation(out_channels)
    k = np.arange(max(in_channels, out_channels))
    mask = np.zeros((in_channels, out_channels), dtype=bool)
    # Pairs (k mod in, k mod out) for k < max(in, out) are distinct and hit every row
    # and every column.
    mask[rows[k % in_channels], cols[k % out_channels]] = True
    return mask


def _fill_random(mask: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Adds connections uniformly at random among inactive ones until `count` are on."""
    mask = mask.copy()
    missing = count - int(mask.sum())
    if missing > 0:
        inactive = np.flatnonzero(~mask)
        chosen = rng.choice(inactive, size=missing, replace=False)
        mask.flat[chosen] = True
    return mask


def random_mask(in_channels: int, out_channels: int, density: float,
                seed: int | np.random.Generator = 0) -> np.ndarray:
    """A `"random"` connection mask (Changpinyo et al. 2017, sec. 5.1).

    Args:
        in_channels: input channels, >= 1.
        out_channels: output channels, >= 1.
        density: the fraction of connections to keep, in (0, 1].
        seed: an integer seed or a NumPy generator. Defaults to 0.

    Returns:
        A float32 array `[in_channels, out_channels]` of zeros and ones with exactly
        `active_count(in_channels, out_channels, density)` ones and no dead filters.

    Raises:
        ValueError: for channel counts < 1 or a density outside (0, 1].
    """
    count = active_count(in_channels, out_channels, density)
    rng = np.random.default_rng(seed)
    mask = _fill_random(_covering(in_channels, out_channels, rng), count, rng)
    return mask.astype("float32")


def block_mask(in_channels: int, out_channels: int, density: float,
               seed: int | np.random.Generator = 0) -> np.ndarray:
    """A `"block"` connection mask: contiguous groups of output channels share one
    input subset.

    Each output sees `k = max(round(f * in), ceil(in / out))` inputs
    (`f = layer_fraction(...)`); there are `g = ceil(in / k)` groups, and group `t`
    sees the inputs `perm[(t * k + j) mod in]`, `j < k`, of a random permutation
    `perm`, so every input feeds at least one group. Output channel `o` is in group
    `o * g // out`.

    Args:
        in_channels: input channels, >= 1.
        out_channels: output channels, >= 1.
        density: the fraction of connections to keep, in (0, 1].
        seed: an integer seed or a NumPy generator. Defaults to 0.

    Returns:
        A float32 array `[in_channels, out_channels]` of zeros and ones, without dead
        filters, with `out_channels * k` ones.

    Raises:
        ValueError: for channel counts < 1 or a density outside (0, 1].
    """
    fraction = layer_fraction(in_channels, out_channels, density)
    k = min(in_channels, max(round(fraction * in_channels), math.ceil(in_channels / out_channels)))
    groups = math.ceil(in_channels / k)
    perm = np.random.default_rng(seed).permutation(in_channels)
    mask = np.zeros((in_channels, out_channels), dtype="float32")
    for out in range(out_channels):
        group = out * groups // out_channels
        mask[perm[(group * k + np.arange(k)) % in_channels], out] = 1.0
    return mask


def connection_mask(in_channels: int, out_channels: int, density: float,
                    pattern: str = "random", seed: int | np.random.Generator = 0) -> np.ndarray:
    """A connection mask of the named pattern (`"random"` or `"block"`).

    Args:
        in_channels: input channels, >= 1.
        out_channels: output channels, >= 1.
        density: the fraction of connections to keep, in (0, 1].
        pattern: one of `PATTERNS`. Defaults to `"random"`.
        seed: an integer seed or a NumPy generator. Defaults to 0.

    Returns:
        A float32 0/1 array `[in_channels, out_channels]`.

    Raises:
        ValueError: for an unknown pattern, channel counts < 1 or a density outside
            (0, 1].
    """
    check_pattern(pattern)
    if pattern == "block":
        return block_mask(in_channels, out_channels, density, seed)
    return random_mask(in_channels, out_channels, density, seed)


def grow_mask(mask: np.ndarray, count: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Activates connections of `mask` at random until `count` are active.

    Dead filters (a row or column without connections) are connected first, by a
    random covering restricted to them; the rest of the new connections are drawn
    uniformly among the inactive ones. Active connections stay active; a `count` at
    or below the current number of active connections returns a copy of `mask`.

    Args:
        mask: a 0/1 array `[in_channels, out_channels]`.
        count: the number of active connections wanted, at most `mask.size`.
        seed: an integer seed or a NumPy generator. Defaults to 0.

    Returns:
        The grown mask, with `mask`'s dtype.

    Raises:
        ValueError: if `mask` is not 2-D or `count` exceeds `mask.size`.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"`mask` must be 2-D [in, out], got shape {mask.shape}.")
    if count > mask.size:
        raise ValueError(f"`count` must be at most mask.size={mask.size}, got {count}.")
    rng = np.random.default_rng(seed)
    active = mask != 0
    if count <= int(active.sum()):
        return mask.copy()
    dead_rows = np.flatnonzero(~active.any(axis=1))
    dead_cols = np.flatnonzero(~active.any(axis=0))
    dead_rows, dead_cols = rng.permutation(dead_rows), rng.permutation(dead_cols)
    # Pair dead rows with dead columns (max of the two counts connections revive all),
    # then connect the leftovers of the longer list to random channels.
    for k in range(max(len(dead_rows), len(dead_cols))):
        if active.sum() >= count:
            break
        i = dead_rows[k] if k < len(dead_rows) else rng.integers(mask.shape[0])
        j = dead_cols[k] if k < len(dead_cols) else rng.integers(mask.shape[1])
        active[i, j] = True
    return _fill_random(active, count, rng).astype(mask.dtype)

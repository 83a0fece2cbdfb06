"""Lossless redundancy elimination: how well each unit is predicted by the others.

Shah et al., "LRE-AMC" (section 3): for the activations `Z` of layer `k` (the
input of layer `k + 1`, one row per example and position, one column per unit),
find

    min_A E ||Z - A Z||^2   subject to   diag(A) = 0.

Rows decouple. Writing `U = I - A` and `S = E[Z Z^T]`, row `l` minimizes
`u^T S u` with `u_l = 1`, so `u = S^-1 e_l / (S^-1)_ll`: the columns of
`S^-1 D` with `D = diag(S^-1)^-1` are the rows of `U` (the paper's
"A = S^-1 D" in its transposed convention), that is

    A = I - D S^-1,   and the residual of unit l is  E[(u^T Z)^2] = 1 / (S^-1)_ll.

We fit an intercept as well (the paper concatenates the next layer's bias to
its weights): `S` is then the covariance of `Z` and unit `l` is predicted as
`A[l] Z + c_l` with `c = mean - A mean`. A small ridge `alpha` (relative to the
mean variance) is added to the diagonal of `S`, which is the exact solution of
`min E||Z - A Z||^2 + alpha ||I - A||^2`; the gradient-descent option minimizes
that same objective without a matrix inverse.

Removing a set `J` of units, keeping `H` (section 3.3): from
`Z_J = A_JJ Z_J + A_JH Z_H + c_J`,

    Z_J = (I - A_JJ)^-1 (A_JH Z_H + c_J) = M [Z_H; 1],

which `tf_pe.compression.remove_units` folds into layer `k + 1`.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from tf_pe.compression.topology import Link, find_link

METHODS = ("closed_form", "gradient_descent")


@dataclasses.dataclass(frozen=True)
class Redundancy:
    """The redundancy of one layer's units.

    Attributes:
        layer: the layer's name.
        A: `(n, n)` prediction weights, zero diagonal: unit `i` is predicted as
            `A[i] @ Z + intercept[i]`.
        intercept: `(n,)` intercepts (zeros when fitted without one).
        error: `(n,)` mean squared residual of each unit.
        mean: `(n,)` mean activation of each unit.
        variance: `(n,)` variance of each unit.
        samples: number of rows (examples times positions) the statistics saw.
        method: "closed_form" or "gradient_descent".
    """

    layer: str
    A: np.ndarray
    intercept: np.ndarray
    error: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    samples: int
    method: str

    @property
    def relative_error(self) -> np.ndarray:
        """`error / variance` (1 - R^2); 0 for units that never vary."""
        var = np.where(self.variance > 0, self.variance, 1.0)
        return np.where(self.variance > 0, self.error / var, 0.0)

    def order(self) -> np.ndarray:
        """Units from most to least predictable (ascending `error`, as Algorithm 1)."""
        return np.argsort(self.error, kind="stable")

    def transformation(self, removed) -> np.ndarray:
        """`M = (I - A_JJ)^-1 [A_JH, c_J]`, shape `(|J|, |H| + 1)`: the removed
        units as an affine function of the kept ones (section 3.3).

        Args:
            removed: indices `J` of the removed units.

        Raises:
            ValueError: if `removed` is empty, repeats or is out of range, or
                `I - A_JJ` is singular.
        """
        n = self.A.shape[0]
        removed = _check_units(removed, n)
        kept = np.setdiff1d(np.arange(n), removed)
        a_jj = self.A[np.ix_(removed, removed)]
        rhs = np.concatenate([self.A[np.ix_(removed, kept)], self.intercept[removed, None]], 1)
        try:
            return np.linalg.solve(np.eye(len(removed)) - a_jj, rhs)
        except np.linalg.LinAlgError as e:
            raise ValueError("`removed` units depend on each other only (I - A_JJ is "
                             "singular): they cannot all be predicted from the rest.") from e


def _check_units(units, n: int) -> np.ndarray:
    arr = np.asarray(units)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"`units` must be a non-empty list of unit indices, got {units!r}.")
    if len(np.unique(arr)) != arr.size or arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"`units` must be distinct indices in [0, {n}), got {list(arr)}.")
    if arr.size >= n:
        raise ValueError(f"`units` would remove all {n} units; keep at least one.")
    return np.sort(arr.astype(np.int64))


def _batches(data, max_batches):
    if isinstance(data, np.ndarray):
        for start in range(0, len(data), 256):
            yield data[start:start + 256]
        return
    for i, batch in enumerate(data):
        if max_batches is not None and i >= max_batches:
            return
        yield batch[0] if isinstance(batch, tuple | list) else batch


def consumer_input(model: keras.Model, link: Link) -> keras.Model:
    """A model from `model`'s input to the input of `link.consumer`."""
    tensor = link.consumer._inbound_nodes[0].input_tensors[0]
    return keras.Model(model.inputs[0], tensor)


def moments(model: keras.Model, link: Link, data, max_batches: int | None = None):
    """Streams `(count, sum, sum of outer products)` of the units' activations.

    The activations are the input of the consumer layer, reshaped to
    `(rows, units)` (every position of a feature map is a row).
    """
    probe = consumer_input(model, link)
    n = link.units
    count, total, outer = 0, np.zeros(n), np.zeros((n, n))
    for x in _batches(data, max_batches):
        z = np.asarray(probe(x, training=False), dtype=np.float64).reshape(-1, n)
        count += z.shape[0]
        total += z.sum(0)
        outer += z.T @ z
    if count == 0:
        raise ValueError("`data` yielded no examples.")
    return count, total, outer


def solve(cov: np.ndarray, ridge: float, method: str = "closed_form", steps: int = 3000,
          tol: float = 1e-10) -> np.ndarray:
    """Solves `min tr((I - A) (S + alpha I) (I - A)^T)` with `diag(A) = 0`.

    `alpha = ridge * mean(diag(S))`. The closed form is `A = I - D (S + alpha I)^-1`
    with `D = diag((S + alpha I)^-1)^-1`; gradient descent (Nesterov, step
    `1 / (2 lambda_max)`, gradient `-2 (I - A)(S + alpha I)` off the diagonal)
    reaches the same point without an inverse.

    Args:
        cov: `(n, n)` symmetric positive semi-definite matrix `S`.
        ridge: relative ridge, >= 0.
        method: one of `METHODS`. Defaults to "closed_form".
        steps: gradient-descent iterations. Defaults to 3000.
        tol: gradient-descent stops when the update's max-norm falls below it.

    Returns:
        `A`, `(n, n)` with a zero diagonal.
    """
    n = cov.shape[0]
    alpha = ridge * max(float(np.mean(np.diag(cov))), 1e-12)
    reg = cov + alpha * np.eye(n)
    if method == "closed_form":
        inv = np.linalg.inv(reg)
        a = np.eye(n) - inv / np.diag(inv)[:, None]
        np.fill_diagonal(a, 0.0)
        return a
    lipschitz = 2 * float(np.linalg.eigvalsh(reg)[-1])
    a = np.zeros((n, n))
    prev = a
    for t in range(1, steps + 1):
        y = a + (t - 1) / (t + 2) * (a - prev)
        grad = -2 * (np.eye(n) - y) @ reg
        np.fill_diagonal(grad, 0.0)
        prev, a = a, y - grad / lipschitz
        if np.max(np.abs(a - prev)) < tol:
            break
    return a


def redundancy(model: keras.Model, layer: str, data, *, method: str = "closed_form",
               ridge: float = 1e-8, intercept: bool | None = None,
               max_batches: int | None = None, steps: int = 3000) -> Redundancy:
    """Measures how well each unit of `layer` is a linear function of the others.

    Implements section 3.2 of Shah et al., "LRE-AMC": `A = I - D S^-1` (see the
    module docstring), with activations streamed over `data`.

    Args:
        model: a functional Keras model; it is not modified.
        layer: the name of a Dense or Conv2D layer that `find_link` accepts.
        data: a `tf.data.Dataset` of `x` or `(x, y, ...)` batches, or a NumPy
            array of inputs.
        method: "closed_form" or "gradient_descent". Defaults to "closed_form".
        ridge: ridge relative to the mean variance, >= 0. Defaults to 1e-8.
        intercept: fit an intercept `c`. Defaults to None: when the consumer
            layer has a bias to fold it into.
        max_batches: read at most this many batches. Defaults to None (all).
        steps: gradient-descent iterations. Defaults to 3000.

    Returns:
        A `Redundancy`.

    Raises:
        ValueError: for an unknown layer, an unsupported topology, an unknown
            `method` or a negative `ridge`.
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {', '.join(METHODS)}, got {method!r}.")
    if not ridge >= 0:
        raise ValueError(f"`ridge` must be >= 0, got {ridge!r}.")
    link = find_link(model, layer)
    if intercept is None:
        intercept = bool(link.consumer.use_bias)
    count, total, outer = moments(model, link, data, max_batches)
    mean = total / count
    second = outer / count
    cov = second - np.outer(mean, mean) if intercept else second
    cov = (cov + cov.T) / 2
    a = solve(cov, ridge, method, steps)
    c = mean - a @ mean if intercept else np.zeros_like(mean)
    resid = np.eye(len(mean)) - a
    error = np.maximum(np.einsum("ij,jk,ik->i", resid, cov, resid), 0.0)
    variance = np.maximum(np.diag(second) - mean**2, 0.0)
    return Redundancy(link.producer.name, a, c, error, mean, variance, count, method)


def select_units(red: Redundancy, count: int, *, max_error: float = 1.0,
                 max_condition: float = 1e4) -> np.ndarray:
    """Picks up to `count` units to remove, most predictable first.

    The paper's guard against removing "neurons with independent observations"
    and against an error-prone `A`: a unit whose relative error (1 - R^2)
    exceeds `max_error` is never picked, and a unit is skipped when adding it
    makes `I - A_JJ` ill-conditioned (the picked units would mostly predict
    each other). At least one unit is always kept.

    Args:
        red: the layer's `Redundancy`.
        count: how many units to pick, >= 1.
        max_error: largest relative error of a picked unit. Defaults to 1.0.
        max_condition: largest condition number of `I - A_JJ`. Defaults to 1e4.

    Returns:
        The picked unit indices (possibly fewer than `count`, possibly none).

    Raises:
        TypeError: naming `red` when it is not a `Redundancy`.
        ValueError: naming `count`, `max_error` or `max_condition` out of range.
    """
    if not isinstance(red, Redundancy):
        raise TypeError(f"`red` must be a Redundancy (from `redundancy`), got "
                        f"{type(red).__name__}.")
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 1:
        raise ValueError(f"`count` must be an integer >= 1, got {count!r}.")
    if not max_error >= 0:
        raise ValueError(f"`max_error` must be >= 0, got {max_error!r}.")
    if not max_condition >= 1:
        raise ValueError(f"`max_condition` must be >= 1, got {max_condition!r}.")
    n = red.A.shape[0]
    count = min(int(count), n - 1)
    rel = red.relative_error
    chosen: list[int] = []
    for i in red.order():
        if len(chosen) >= count:
            break
        if rel[i] > max_error:
            continue
        trial = [*chosen, int(i)]
        if np.linalg.cond(np.eye(len(trial)) - red.A[np.ix_(trial, trial)]) > max_condition:
            continue
        chosen = trial
    return np.array(sorted(chosen), dtype=np.int64)

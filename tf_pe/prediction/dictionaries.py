"""Dictionaries for weight prediction (Denil et al., NeurIPS 2013).

"Predicting Parameters in Deep Learning" writes a layer's weight matrix as
`W = U W_alpha`: a fixed dictionary `U` (`n x n_alpha`, static) times learned
coefficients `W_alpha` (`n_alpha x units`, dynamic). With kernel ridge regression
(sec. 3.1) the dictionary is

    U = k_alpha^T (K_alpha + lambda I)^-1,

where `K_alpha` is the kernel between the chosen locations `alpha` and
`k_alpha` the kernel between `alpha` and every location of the weight's domain.
The locations `alpha` are drawn uniformly at random by seed (sec. 3.2).

A dictionary works over a *domain* of `n` locations: the inputs of a Dense
layer, or the `kh * kw` spatial positions of a convolution filter (tied across
input channels, as in the paper). `matrices(domain, n_alpha, columns, seed)`
returns one `U` per column (sec. 3.4), each with its own `alpha`.

Dictionaries: `"se"` (squared-exponential kernel over coordinates), `"emp"` and
`"emp2"` (empirical covariance and its elementwise square, fitted to data),
`"randfixu"` (iid Gaussian), `"randcon"` (random columns of the identity),
`"lowrank"` (a learned `U`, Gaussian at initialization) and `"ae"` (atoms of a
one-layer autoencoder fitted to data).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from tf_pe.prediction.fitting import data_matrix, train_autoencoder


@dataclasses.dataclass(frozen=True)
class Domain:
    """The locations a dictionary predicts over.

    Attributes:
        size: the number of locations `n`.
        coords: `[n, d]` coordinates of the locations (pixel positions), used by
            the squared-exponential kernel.
        channel: `[n]` channel of each location; the SE kernel is zero between
            locations of different channels.
    """

    size: int
    coords: np.ndarray
    channel: np.ndarray

    @classmethod
    def grid(cls, shape) -> Domain:
        """The locations of a row-major flattened `(h, w)` or `(h, w, c)` array."""
        shape = tuple(int(d) for d in shape)
        if len(shape) == 2:
            shape = (*shape, 1)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"`grid` must be (h, w) or (h, w, c) with positive sizes, "
                             f"got {shape}.")
        h, w, c = shape
        y, x, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
        coords = np.stack([y.ravel(), x.ravel()], axis=1).astype(np.float64)
        return cls(h * w * c, coords, ch.ravel())

    @classmethod
    def chain(cls, n: int) -> Domain:
        """`n` locations on a line (inputs without a known topology)."""
        return cls(n, np.arange(n, dtype=np.float64)[:, None], np.zeros(n, np.int64))


def draw_alpha(n: int, n_alpha: int, columns: int, seed: int) -> np.ndarray:
    """Draws `columns` sets of `n_alpha` distinct locations out of `n`,
    uniformly at random (Denil et al. sec. 3.2).

    Returns:
        An int64 array `[columns, n_alpha]`, each row sorted.

    Raises:
        ValueError: naming `n`, `n_alpha` (in [1, n]) or `columns` when out of range.
    """
    for name, value in (("n", n), ("n_alpha", n_alpha), ("columns", columns)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
    if n_alpha > n:
        raise ValueError(f"`n_alpha` must be at most n={n}, got {n_alpha}.")
    rng = np.random.default_rng(seed)
    return np.stack([np.sort(rng.choice(n, size=n_alpha, replace=False))
                     for _ in range(columns)]).astype(np.int64)


def ridge_dictionary(kernel: np.ndarray, alpha: np.ndarray, ridge: float) -> np.ndarray:
    """The kernel ridge predictor `U = k_alpha^T (K_alpha + lambda I)^-1`.

    Args:
        kernel: the `[n, n]` kernel matrix between all locations.
        alpha: the chosen locations, `[n_alpha]` indices.
        ridge: `lambda`, relative to the mean of the kernel's diagonal (so that
            it is scale-free): `lambda = ridge * trace(K) / n`.

    Returns:
        `U`, float64 `[n, n_alpha]`.

    Raises:
        ValueError: naming `ridge` when it is negative or not finite.
    """
    if not 0 <= ridge < np.inf:
        raise ValueError(f"`ridge` must be a finite number >= 0, got {ridge!r}.")
    scale = float(np.mean(np.diag(kernel))) or 1.0
    k_alpha = kernel[alpha, :]                                  # [n_alpha, n]
    big_k = kernel[np.ix_(alpha, alpha)] + ridge * scale * np.eye(len(alpha))
    return np.linalg.solve(big_k, k_alpha).T                    # K symmetric


class Dictionary:
    """Base class: builds the per-column dictionaries `U`.

    Attributes:
        name: the registry name.
        needs_data: whether `fit` must run before `matrices`.
        trainable: whether `U` is learned (LowRank) rather than static.
    """

    name = ""
    needs_data = False
    trainable = False

    def matrices(self, domain: Domain, n_alpha: int, columns: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Returns `(U, alpha)`: `U` float32 `[columns, n, n_alpha]` and the
        drawn locations `alpha` int64 `[columns, n_alpha]`."""
        alpha = draw_alpha(domain.size, n_alpha, columns, seed)
        u = np.stack([self._column(domain, a, np.random.default_rng([seed, j]))
                      for j, a in enumerate(alpha)])
        return u.astype(np.float32), alpha

    def _column(self, domain: Domain, alpha: np.ndarray, rng) -> np.ndarray:
        raise NotImplementedError

    @property
    def fitted(self) -> bool:
        """Whether the dictionary can build matrices (always, without data)."""
        return True

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Dictionary:
        return cls(**config)


def _check_positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"`{name}` must be a number > 0, got {value!r}.")
    return float(value)


def _check_ridge(ridge) -> float:
    if isinstance(ridge, bool) or not isinstance(ridge, int | float) or not ridge >= 0:
        raise ValueError(f"`ridge` must be a number >= 0, got {ridge!r}.")
    return float(ridge)


@keras.saving.register_keras_serializable(package="tf_pe")
class SE(Dictionary):
    """Squared-exponential kernel ridge dictionary (Denil et al. sec. 3.2):
    `k(i, j) = exp(-((i_x - j_x)^2 + (i_y - j_y)^2) / (2 sigma^2))` between
    locations of the same channel, 0 across channels.

    Args:
        length_scale: `sigma`, in units of the grid. Defaults to 1.0 (the paper's).
        ridge: `lambda` relative to the kernel's diagonal. Defaults to 1e-3.
        grid: for a Dense layer, the `(h, w)` or `(h, w, c)` image its input is
            a row-major flattening of; None treats the inputs as a line.
            Convolutions always use the filter's `kh x kw` grid. Defaults to None.
    """

    name = "se"

    def __init__(self, length_scale=1.0, ridge=1e-3, grid=None):
        self.length_scale = _check_positive("length_scale", length_scale)
        self.ridge = _check_ridge(ridge)
        self.grid = None if grid is None else tuple(int(d) for d in grid)
        if self.grid is not None:
            Domain.grid(self.grid)

    def kernel(self, domain: Domain) -> np.ndarray:
        """The `[n, n]` SE kernel over `domain`."""
        d2 = ((domain.coords[:, None, :] - domain.coords[None, :, :]) ** 2).sum(-1)
        same = domain.channel[:, None] == domain.channel[None, :]
        return np.exp(-d2 / (2 * self.length_scale**2)) * same

    def matrices(self, domain, n_alpha, columns, seed):
        self._k = self.kernel(domain)
        return super().matrices(domain, n_alpha, columns, seed)

    def _column(self, domain, alpha, rng):
        return ridge_dictionary(self._k, alpha, self.ridge)

    def get_config(self):
        return {"length_scale": self.length_scale, "ridge": self.ridge,
                "grid": None if self.grid is None else list(self.grid)}


@keras.saving.register_keras_serializable(package="tf_pe")
class Emp(Dictionary):
    """Kernel ridge with the empirical covariance of the layer's inputs
    (Denil et al. sec. 3.5): `K = (X - mean)^T (X - mean) / N`.

    Call `fit` (or let the layer fit it on its inputs, see
    `tf_pe.prediction.fit_predicted_layers`) before building a layer.

    Args:
        ridge: `lambda` relative to the mean variance. Defaults to 1e-2.
        max_examples: at most this many samples are used by `fit`.
            Defaults to 10000.
    """

    name = "emp"
    needs_data = True
    power = 1

    def __init__(self, ridge=1e-2, max_examples=10_000):
        self.ridge = _check_ridge(ridge)
        if isinstance(max_examples, bool) or not isinstance(max_examples, int) or (
                max_examples < 2):
            raise ValueError(f"`max_examples` must be an integer >= 2, got {max_examples!r}.")
        self.max_examples = max_examples
        self.covariance = None

    @property
    def fitted(self):
        return self.covariance is not None

    def fit(self, data) -> Emp:
        """Estimates the covariance from `data`: an array `[N, ...]` (flattened
        to `[N, n]`) or a `tf.data.Dataset` of `x` or `(x, y)` batches.

        Returns:
            self.
        """
        x = data_matrix(data, self.max_examples)
        x = x - x.mean(axis=0)
        self.covariance = x.T @ x / len(x)
        return self

    def kernel(self, domain: Domain) -> np.ndarray:
        """The `[n, n]` kernel (covariance, or its elementwise square for emp2).

        Raises:
            ValueError: if not fitted, or fitted to a different number of inputs.
        """
        if not self.fitted:
            raise ValueError(f"`dictionary` {self.name!r} must be fitted to data first: call "
                             "its `fit(x)`, or `tf_pe.prediction.fit_predicted_layers(model, x)`.")
        if self.covariance.shape[0] != domain.size:
            raise ValueError(f"`dictionary` {self.name!r} was fitted to "
                             f"{self.covariance.shape[0]} inputs, the layer has {domain.size}.")
        return self.covariance ** self.power

    def matrices(self, domain, n_alpha, columns, seed):
        self._k = self.kernel(domain)
        return super().matrices(domain, n_alpha, columns, seed)

    def _column(self, domain, alpha, rng):
        return ridge_dictionary(self._k, alpha, self.ridge)

    def get_config(self):
        return {"ridge": self.ridge, "max_examples": self.max_examples}


@keras.saving.register_keras_serializable(package="tf_pe")
class Emp2(Emp):
    """Kernel ridge with the elementwise squared empirical covariance
    (Denil et al. sec. 3.5): `K_ij = C_ij^2`. Arguments as `Emp`."""

    name = "emp2"
    power = 2


@keras.saving.register_keras_serializable(package="tf_pe")
class RandFixU(Dictionary):
    """Random projections: a fixed `U` with iid `N(0, 1 / n_alpha)` entries
    (Denil et al. sec. 3.5, "RandFixU")."""

    name = "randfixu"

    def _column(self, domain, alpha, rng):
        return rng.normal(0.0, 1.0 / np.sqrt(len(alpha)), size=(domain.size, len(alpha)))


@keras.saving.register_keras_serializable(package="tf_pe")
class RandCon(Dictionary):
    """Random connections: `U` holds the columns `alpha` of the identity, so
    each output sees only the inputs `alpha` (Denil et al. sec. 3.5)."""

    name = "randcon"

    def _column(self, domain, alpha, rng):
        u = np.zeros((domain.size, len(alpha)))
        u[alpha, np.arange(len(alpha))] = 1.0
        return u


@keras.saving.register_keras_serializable(package="tf_pe")
class LowRank(RandFixU):
    """Both factors learned: `W = U V` with a trainable `U`, Gaussian at
    initialization (Denil et al. sec. 2, "LowRank")."""

    name = "lowrank"
    trainable = True


@keras.saving.register_keras_serializable(package="tf_pe")
class AE(Dictionary):
    """Atoms of a one-layer autoencoder trained on the layer's inputs
    (Denil et al. sec. 3.5): `h = sigmoid(x D + b)`, `x' = h D^T + c`
    (tied weights), and each column's `U` is the atoms `D[:, alpha]`,
    scaled to unit norm.

    Args:
        size: the number of atoms; None uses the number of inputs `n`.
            Defaults to None.
        epochs: passes of Adam over the data. Defaults to 5.
        max_examples: at most this many samples are used. Defaults to 10000.
        seed: seeds the autoencoder's initialization. Defaults to 0.
    """

    name = "ae"
    needs_data = True

    def __init__(self, size=None, epochs=5, max_examples=10_000, seed=0):
        for arg, value in (("epochs", epochs), ("max_examples", max_examples)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{arg}` must be an integer >= 1, got {value!r}.")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                                 or size < 1):
            raise ValueError(f"`size` must be an integer >= 1 or None, got {size!r}.")
        self.size, self.epochs, self.max_examples, self.seed = size, epochs, max_examples, seed
        self.atoms = None

    @property
    def fitted(self):
        return self.atoms is not None

    def fit(self, data) -> AE:
        """Trains the autoencoder on `data` (as `Emp.fit`).

        Returns:
            self.
        """
        x = data_matrix(data, self.max_examples)
        atoms = train_autoencoder(x, self.size or x.shape[1], self.epochs, self.seed)
        self.atoms = atoms / np.maximum(np.linalg.norm(atoms, axis=0), 1e-12)
        return self

    def matrices(self, domain, n_alpha, columns, seed):
        if not self.fitted:
            raise ValueError("`dictionary` 'ae' must be fitted to data first: call its "
                             "`fit(x)`, or `tf_pe.prediction.fit_predicted_layers(model, x)`.")
        if self.atoms.shape[0] != domain.size:
            raise ValueError(f"`dictionary` 'ae' was fitted to {self.atoms.shape[0]} inputs, "
                             f"the layer has {domain.size}.")
        if n_alpha > self.atoms.shape[1]:
            raise ValueError(f"`dictionary` 'ae' has {self.atoms.shape[1]} atoms, the layer "
                             f"needs {n_alpha}: use a larger `size`.")
        alpha = draw_alpha(self.atoms.shape[1], n_alpha, columns, seed)
        return np.stack([self.atoms[:, a] for a in alpha]).astype(np.float32), alpha

    def get_config(self):
        return {"size": self.size, "epochs": self.epochs, "max_examples": self.max_examples,
                "seed": self.seed}


DICTIONARIES = {cls.name: cls for cls in (SE, Emp, Emp2, RandFixU, RandCon, LowRank, AE)}


def get(identifier) -> Dictionary:
    """Returns a dictionary from a name, an instance, or a serialized config.

    Args:
        identifier: one of `DICTIONARIES`' names, a `Dictionary`, or
            `{"class_name": name, "config": {...}}`.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if isinstance(identifier, Dictionary):
        return identifier
    if isinstance(identifier, dict) and "class_name" in identifier:
        name, config = identifier["class_name"], identifier.get("config", {})
    else:
        name, config = identifier, {}
    if not isinstance(name, str) or name.lower() not in DICTIONARIES:
        raise ValueError(f"`dictionary` must be one of {', '.join(DICTIONARIES)} or a "
                         f"tf_pe.prediction.Dictionary; got {identifier!r}.")
    return DICTIONARIES[name.lower()].from_config(config)


def serialize(dictionary: Dictionary) -> dict:
    """Returns `{"class_name": name, "config": ...}` for `get`.

    Raises:
        TypeError: naming `dictionary` when it is not a `Dictionary`.
    """
    if not isinstance(dictionary, Dictionary):
        raise TypeError(f"`dictionary` must be a Dictionary, got {type(dictionary).__name__}.")
    return {"class_name": dictionary.name, "config": dictionary.get_config()}

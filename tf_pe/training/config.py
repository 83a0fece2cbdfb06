"""The configuration of one training run, validated before any work is done."""

from __future__ import annotations

import dataclasses

from tf_pe.sparsity.distributions import DISTRIBUTIONS
from tf_pe.sparsity.patterns import PATTERNS

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
LR_SCHEDULES = ("constant", "cosine", "step")
STRATEGIES = ("none", "mirrored", "multi_worker", "tpu")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a `tf-pe train` run.

    Attributes:
        model: a name from `tf_pe.models.available()`. Defaults to `"lenet5"`.
        dataset: a name from `tf_pe.data.available()`. Defaults to `"fashion_mnist"`.
        method: a name from `tf_pe.training.available_methods()`. Defaults to
            `"dense"`.
        epochs: passes over the training data. Defaults to 12.
        batch_size: examples per step. Defaults to 128.
        optimizer: one of `OPTIMIZERS`. Defaults to `"adam"`.
        learning_rate: the initial learning rate. Defaults to 1e-3.
        lr_schedule: one of `LR_SCHEDULES`: constant, cosine decay to zero over
            the run, or step decay (x0.1 at 50% and 75% of the run).
            Defaults to `"cosine"`.
        weight_decay: decoupled weight decay of the optimizer. Defaults to 0.
        momentum: momentum of SGD and RMSprop. Defaults to 0.9.
        density: fraction of active connections in (0, 1] for sparse methods.
            Defaults to 1.
        depth_multiplier: the zoo's width multiplier (parameter fraction of
            hidden layers, Changpinyo et al. 2017). Defaults to 1.
        pattern: connection pattern of method "channel", one of
            `tf_pe.sparsity.patterns.PATTERNS`. Defaults to `"random"`.
        densify_every: method "channel": double the connections every this many
            steps (incremental training, Changpinyo et al. 2017), from
            `initial_density` up to `density`. Defaults to None (no densification).
        initial_density: the starting density when densifying, in (0, density].
            Defaults to None (0.01, the paper's, when `densify_every` is set).
        densify_factor: the multiplier of each densification step, > 1.
            Defaults to 2.
        distribution: initial per-layer densities of the masked methods (dsr,
            static, set), one of `tf_pe.sparsity.distributions.DISTRIBUTIONS`.
            Defaults to `"uniform"`.
        keep_first_dense: masked methods leave the first layer dense.
            Defaults to False.
        keep_last_dense: masked methods leave the last layer dense.
            Defaults to False.
        reparam_period: steps between mask updates of dsr, set and gmp, >= 1.
            Defaults to 100.
        prune_fraction: dsr: the target pruned per step as a fraction of the
            active weights; set: the fraction `zeta` of each layer replaced per
            step; in (0, 1). Defaults to None (0.02 for dsr, 0.1 for set).
        initial_threshold: dsr's initial global threshold H, > 0. Defaults to 1e-3.
        granularity: `"weight"` or `"channel"` (whole kernel slices) for the
            masked methods. Defaults to `"weight"`.
        prune_end: gmp reaches `density` at this fraction of training, in
            (0, 1]. Defaults to 0.75.
        log_dir: TensorBoard log dir for mask-update summaries. Defaults to None.
        learned_fraction: method "predict": fraction of each predicted layer's
            kernel that is learned, in (0, 1]. Defaults to None (0.25).
        dictionary: method "predict": a dictionary name of
            `tf_pe.prediction.DICTIONARIES`, or names joined by "-", one per
            predicted layer in order (the last repeats), e.g. `"se-emp"`.
            Defaults to None (`"se"`).
        columns: method "predict": columns of each predicted Dense layer, >= 1.
            Defaults to None (1).
        strategy: the `tf.distribute` strategy, one of `STRATEGIES`: none (the
            default strategy, one device), mirrored (all local GPUs),
            multi_worker (the cluster in `TF_CONFIG`) or tpu (see
            `tf_pe.training.strategy.make_strategy`). Defaults to `"none"`.
        seed: seeds weights, masks and data order. Defaults to 0.
        take: train on only the first `take` examples (quick runs). Defaults
            to None (all).
        eval_take: evaluate on only the first `eval_take` test examples.
            Defaults to None (all).
        data_dir: a tensorflow-datasets data dir. Defaults to None (tfds' default).
        out: the run directory. Defaults to `"runs/latest"`.
    """

    model: str = "lenet5"
    dataset: str = "fashion_mnist"
    method: str = "dense"
    epochs: int = 12
    batch_size: int = 128
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    weight_decay: float = 0.0
    momentum: float = 0.9
    density: float = 1.0
    depth_multiplier: float = 1.0
    pattern: str = "random"
    densify_every: int | None = None
    initial_density: float | None = None
    densify_factor: float = 2.0
    distribution: str = "uniform"
    keep_first_dense: bool = False
    keep_last_dense: bool = False
    reparam_period: int = 100
    prune_fraction: float | None = None
    initial_threshold: float = 1e-3
    granularity: str = "weight"
    prune_end: float = 0.75
    log_dir: str | None = None
    learned_fraction: float | None = None
    dictionary: str | None = None
    columns: int | None = None
    strategy: str = "none"
    seed: int = 0
    take: int | None = None
    eval_take: int | None = None
    data_dir: str | None = None
    out: str = "runs/latest"

    def __post_init__(self):
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _check_positive_int("epochs", self.epochs)
        _check_positive_int("batch_size", self.batch_size)
        for name in ("take", "eval_take"):
            if getattr(self, name) is not None:
                _check_positive_int(name, getattr(self, name))
        if not self.learning_rate > 0:
            raise ValueError(f"`learning_rate` must be > 0, got {self.learning_rate}.")
        if not self.weight_decay >= 0:
            raise ValueError(f"`weight_decay` must be >= 0, got {self.weight_decay}.")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"`momentum` must be in [0, 1), got {self.momentum}.")
        if not 0 < self.density <= 1:
            raise ValueError(f"`density` must be in (0, 1], got {self.density}.")
        if not self.depth_multiplier > 0:
            raise ValueError(f"`depth_multiplier` must be > 0, got {self.depth_multiplier}.")
        _check_choice("pattern", self.pattern, PATTERNS)
        if self.densify_every is not None:
            _check_positive_int("densify_every", self.densify_every)
        if self.initial_density is not None:
            if self.densify_every is None:
                raise ValueError("`initial_density` needs `densify_every` (the period of "
                                 "densification); without it the density is `density`.")
            if not 0 < self.initial_density <= self.density:
                raise ValueError(f"`initial_density` must be in (0, density={self.density}], "
                                 f"got {self.initial_density}.")
        if not self.densify_factor > 1:
            raise ValueError(f"`densify_factor` must be > 1, got {self.densify_factor}.")
        _check_choice("distribution", self.distribution, DISTRIBUTIONS)
        _check_choice("granularity", self.granularity, ("weight", "channel"))
        _check_positive_int("reparam_period", self.reparam_period)
        if self.prune_fraction is not None and not 0 < self.prune_fraction < 1:
            raise ValueError(f"`prune_fraction` must be in (0, 1), got {self.prune_fraction}.")
        if not self.initial_threshold > 0:
            raise ValueError(f"`initial_threshold` must be > 0, got {self.initial_threshold}.")
        if not 0 < self.prune_end <= 1:
            raise ValueError(f"`prune_end` must be in (0, 1], got {self.prune_end}.")
        _check_prediction(self)
        _check_choice("strategy", self.strategy, STRATEGIES)
        if not self.out:
            raise ValueError("`out` must be a directory path, got an empty string.")

    def to_dict(self) -> dict:
        """Returns the configuration as a JSON-serializable dict."""
        return dataclasses.asdict(self)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(choices)}; got {value!r}.")


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")


def _check_prediction(config: TrainConfig) -> None:
    from tf_pe.prediction.dictionaries import DICTIONARIES

    if config.learned_fraction is not None and not 0 < config.learned_fraction <= 1:
        raise ValueError(f"`learned_fraction` must be in (0, 1], got {config.learned_fraction}.")
    if config.dictionary is not None:
        for name in config.dictionary.split("-"):
            _check_choice("dictionary", name, tuple(DICTIONARIES))
    if config.columns is not None:
        _check_positive_int("columns", config.columns)

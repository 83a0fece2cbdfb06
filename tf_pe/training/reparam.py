"""Training methods on masked layers: "dsr", "static", "set" and "gmp".

All four build the zoo model, turn its Dense/Conv2D/DepthwiseConv2D layers into
`tf_pe.layers.Masked*` layers with `tf_pe.sparsify(method="masked")` (the same
layers, so comparisons are fair), and differ only in the callback:

* `dsr`: `DynamicSparseReparam` (Mostafa & Wang, ICML 2019), starting at
  `density` with the `distribution` of per-layer densities;
* `static`: no callback; the initial masks are kept;
* `set`: `SET` (Mocanu et al. 2018), per-layer prune-and-regrow;
* `gmp`: `GradualMagnitudePruning` (Zhu & Gupta 2017) from dense to `density`
  at `prune_end` of training.

The thin dense baseline is method "dense" with `--depth-multiplier`. The
callbacks write `reparam.json` (history and a one-line report) into the run
directory, add `reparam_*` columns to the per-epoch history, and print the
report when training ends.

    tf-pe train --model=lenet_300_100 --method=dsr --density=0.05
"""

from __future__ import annotations

import math
import os

from tf_pe import data, models
from tf_pe.callbacks.baselines import SET, GradualMagnitudePruning
from tf_pe.callbacks.reparam import DynamicSparseReparam
from tf_pe.sparsity import find_sparse_layers
from tf_pe.training.config import TrainConfig
from tf_pe.training.methods import Method, register_method

RECORD_NAME = "reparam.json"
DSR_PRUNE_FRACTION = 0.02
SET_ZETA = 0.1


def total_steps(config: TrainConfig) -> int:
    """Optimizer steps in the whole run."""
    n_train = data.info(config.dataset).num_examples["train"]
    if config.take is not None:
        n_train = min(n_train, config.take)
    return math.ceil(n_train / config.batch_size) * config.epochs


def masked_model(config: TrainConfig, input_shape: tuple, num_classes: int, density: float):
    """The zoo model with masked layers at `density` (per `config.distribution`)."""
    dense = models.get(config.model, input_shape=input_shape, num_classes=num_classes,
                       depth_multiplier=config.depth_multiplier)
    return models.sparsify(dense, method="masked", density=density, seed=config.seed,
                           distribution=config.distribution,
                           keep_first_dense=config.keep_first_dense,
                           keep_last_dense=config.keep_last_dense,
                           granularity=config.granularity)


def _common(config: TrainConfig) -> dict:
    return {"granularity": config.granularity, "log_dir": config.log_dir,
            "record_path": os.path.join(config.out, RECORD_NAME), "verbose": True}


def build_static(config, input_shape, num_classes):
    """Masked layers at `density`, masks fixed: `(model, [])`."""
    return masked_model(config, input_shape, num_classes, config.density), []


def build_dsr(config, input_shape, num_classes):
    """Masked layers at `density` and a `DynamicSparseReparam` callback."""
    model = masked_model(config, input_shape, num_classes, config.density)
    callback = DynamicSparseReparam(
        period=config.reparam_period,
        target_prune_fraction=config.prune_fraction or DSR_PRUNE_FRACTION,
        initial_threshold=config.initial_threshold, **_common(config))
    return model, [callback]


def build_set(config, input_shape, num_classes):
    """Masked layers at `density` and a `SET` callback."""
    model = masked_model(config, input_shape, num_classes, config.density)
    callback = SET(zeta=config.prune_fraction or SET_ZETA, period=config.reparam_period,
                   **_common(config))
    return model, [callback]


def build_gmp(config, input_shape, num_classes):
    """Dense masked layers pruned by `GradualMagnitudePruning` to the per-layer
    densities the other masked methods start from (`density`, `distribution`,
    `keep_first_dense`, `keep_last_dense`), so that all end with the same layers
    and parameter counts. With the uniform distribution every layer ends at
    `density`, as in Zhu & Gupta.
    """
    target = masked_model(config, input_shape, num_classes, config.density)
    finals = {layer.name: float(layer.mask.numpy().mean())
              for layer in find_sparse_layers(target)}
    model = masked_model(config, input_shape, num_classes, 1.0)
    end = max(1, round(config.prune_end * total_steps(config)))
    callback = GradualMagnitudePruning(final_density=finals, end_step=end,
                                       period=min(config.reparam_period, end),
                                       **_common(config))
    return model, [callback]


_MASKED = ("density", "distribution", "keep_first_dense", "keep_last_dense", "granularity")
_UPDATES = ("reparam_period", "log_dir")

for _name, _build, _text, _options in [
    ("dsr", build_dsr, "dynamic sparse reparameterization (Mostafa & Wang 2019), --density",
     (*_MASKED, *_UPDATES, "prune_fraction", "initial_threshold")),
    ("static", build_static, "static sparse masks at --density (no reparameterization)",
     _MASKED),
    ("set", build_set, "SET: per-layer magnitude prune, random regrow (Mocanu et al. 2018)",
     (*_MASKED, *_UPDATES, "prune_fraction")),
    ("gmp", build_gmp, "gradual magnitude pruning from dense to --density (Zhu & Gupta 2017)",
     (*_MASKED, *_UPDATES, "prune_end")),
]:
    register_method(Method(name=_name, description=_text, build=_build, options=_options))

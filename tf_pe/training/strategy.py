"""`tf.distribute` strategies for `tf-pe train --strategy=NAME`.

`"none"` is TensorFlow's default strategy (one device); `"mirrored"` is
`tf.distribute.MirroredStrategy` over the local GPUs (or CPUs when there are
none); `"multi_worker"` is `tf.distribute.MultiWorkerMirroredStrategy`, whose
cluster comes from the `TF_CONFIG` environment variable of each worker process;
`"tpu"` is `tf.distribute.TPUStrategy` on the TPU that
`tf.distribute.cluster_resolver.TPUClusterResolver` finds.

tf_pe's sparse state (masks, thresholds, schedule steps) lives in layer
variables that only callbacks assign, outside the replicated step, so the
strategy's mirrored variables carry the same masks on every replica, and every
worker makes the same random choices (they are seeded by a variable and the step).

Keras 3 (3.15) cannot `fit` under `MultiWorkerMirroredStrategy`
(keras-team/keras#20585): before training it reduces a whole `(x, y)` batch
with one collective, and after every step it reduces scalar logs along axis 0.
`make_fit_compatible(model, strategy)` works around both, on that model only.
"""

from __future__ import annotations

import json
import os
import types

import tensorflow as tf

from tf_pe.training.config import STRATEGIES


def check_strategy(name: str) -> str:
    """Returns `name` if it is one of `STRATEGIES`.

    Raises:
        ValueError: naming `strategy` and the valid choices.
    """
    if name not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {', '.join(STRATEGIES)}; got {name!r}.")
    return name


def make_strategy(name: str = "none", tpu: str | None = None) -> tf.distribute.Strategy:
    """Creates the strategy called `name` (see the module docstring).

    Args:
        name: one of `STRATEGIES`. Defaults to `"none"`.
        tpu: for `"tpu"`, the TPU's name or address as `TPUClusterResolver`
            takes it; None reads `TPU_NAME` or looks for a local TPU.
            Defaults to None.

    Returns:
        The strategy; models must be built and compiled in its `scope()`.

    Raises:
        ValueError: for an unknown name, `"multi_worker"` with a `TF_CONFIG`
            that is not JSON, or `"tpu"` when no TPU can be found.
    """
    check_strategy(name)
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        config = os.environ.get("TF_CONFIG", "")
        if config:
            try:
                json.loads(config)
            except json.JSONDecodeError as e:
                raise ValueError(f"`TF_CONFIG` must be JSON for strategy 'multi_worker': "
                                 f"{e}.") from e
        return tf.distribute.MultiWorkerMirroredStrategy()
    return _tpu_strategy(tpu)


def _tpu_strategy(tpu: str | None) -> tf.distribute.Strategy:
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
        raise ValueError(
            f"`strategy`='tpu' found no TPU ({type(e).__name__}: {e}). Run on a TPU VM or "
            "set TPU_NAME, or choose --strategy=none|mirrored|multi_worker.") from e
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process is the chief (worker 0) of `strategy`'s cluster;
    True for single-process strategies."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0
                                            and "chief" not in resolver.cluster_spec().jobs)


def worker_dir(out: str, strategy: tf.distribute.Strategy) -> str:
    """The directory this process writes to: `out` for the chief, and
    `out/worker-<id>` for the other workers of a multi-worker run (they all
    save, as collectives require, but must not overwrite the chief's files)."""
    if is_chief(strategy):
        return out
    return os.path.join(out, f"worker-{strategy.cluster_resolver.task_id}")


def shard_by_data(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Returns `dataset` with the `DATA` auto-shard policy.

    tensorflow-datasets keeps a small split in one file, and the default
    (`AUTO`, by files) then fails with two or more workers; `DATA` gives each
    worker its share of every batch instead.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def make_fit_compatible(model, strategy: tf.distribute.Strategy):
    """Lets `model.fit`/`evaluate` run under `MultiWorkerMirroredStrategy`.

    Keras 3 (keras-team/keras#20585) fails there twice: its symbolic build
    calls `strategy.reduce` on the whole `(x, y)` batch, and its train and test
    steps reduce scalar logs with `strategy.reduce("MEAN", v, axis=0)`. This
    builds from the local replica's batch (only shapes are needed) and gives
    every scalar log an axis of length one, so the reduction is the mean over
    replicas that Keras computes for other strategies. Only `model` changes;
    for other strategies it is returned as it is.

    Args:
        model: a `keras.Model` built in `strategy.scope()`.
        strategy: the strategy it trains under.

    Returns:
        `model`.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return model

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = next(batches)
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=tf.nest.map_structure(local, data_batch))

    make_function = model._make_function

    def make_function_with_vector_logs(self, step_function):
        def step(data):
            logs = step_function(data)
            return tf.nest.map_structure(
                lambda t: tf.reshape(t, [1]) if t.shape.rank == 0 else t, logs)

        return make_function(step)

    model._maybe_symbolic_build = types.MethodType(maybe_symbolic_build, model)
    model._make_function = types.MethodType(make_function_with_vector_logs, model)
    return model

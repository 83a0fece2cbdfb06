"""Optimizers and learning-rate schedules for `tf-pe train`."""

from __future__ import annotations

import keras

from tf_pe.training.config import TrainConfig


def learning_rate(config: TrainConfig, total_steps: int):
    """Returns the learning rate (a float or a Keras schedule) of a run.

    Args:
        config: the run's configuration.
        total_steps: optimizer steps in the whole run.

    Returns:
        `config.learning_rate` for a constant schedule, else a
        `keras.optimizers.schedules.LearningRateSchedule`.
    """
    lr = config.learning_rate
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(total_steps, 1))
    if config.lr_schedule == "step":
        boundaries = [max(total_steps // 2, 1), max(3 * total_steps // 4, 2)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            boundaries, [lr, lr * 0.1, lr * 0.01])
    return lr


def make_optimizer(config: TrainConfig, total_steps: int) -> keras.optimizers.Optimizer:
    """Builds the run's optimizer with its learning-rate schedule.

    Args:
        config: the run's configuration.
        total_steps: optimizer steps in the whole run.

    Returns:
        A Keras optimizer.
    """
    lr = learning_rate(config, total_steps)
    decay = config.weight_decay or None
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=config.momentum, nesterov=True,
                                    weight_decay=decay)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr, momentum=config.momentum, weight_decay=decay)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=config.weight_decay or 1e-4)
    return keras.optimizers.Adam(lr, weight_decay=decay)

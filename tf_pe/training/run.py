"""One training run: data, model, fit, evaluate, and the files it leaves."""

from __future__ import annotations

import dataclasses
import math
import os
import time

import keras

from tf_pe import data, models
from tf_pe.sparsity import summary
from tf_pe.training.backup import Backup, restore_point
from tf_pe.training.config import TrainConfig
from tf_pe.training.methods import check_options, get_method
from tf_pe.training.optim import make_optimizer
from tf_pe.training.record import RECORD_NAME, EpochTimer, versions, write_json
from tf_pe.training.strategy import (
    make_fit_compatible,
    make_strategy,
    shard_by_data,
    worker_dir,
)

MODEL_NAME = "model.keras"
BACKUP_NAME = "backup"


def check_config(config: TrainConfig) -> None:
    """Checks the names in `config` against what is registered.

    Raises:
        ValueError: naming the argument and the valid choices.
    """
    if config.model not in models.available():
        raise ValueError(
            f"`model` must be one of {', '.join(models.available())}; got {config.model!r}.")
    if config.dataset not in data.available():
        raise ValueError(
            f"`dataset` must be one of {', '.join(data.available())}; "
            f"got {config.dataset!r}.")
    check_options(get_method(config.method), config)


def prepare_out_dir(out: str) -> None:
    """Creates the run directory and checks that it can be written.

    Raises:
        ValueError: naming `out` when it cannot be created or written.
    """
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".write-test")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as e:
        raise ValueError(f"`out` directory {out!r} cannot be written: {e.strerror}.") from e


def train(config: TrainConfig, verbose="auto", print_fn=print) -> dict:
    """Trains, evaluates and saves one model as `config` says.

    Writes to `config.out`: `model.keras`, `run.json` (configuration, metrics,
    per-epoch history, timings, library versions and the parameter/MAC summary;
    written first with status "running", so a crash leaves a record),
    `history.csv`, and while training a `backup/` from which an interrupted run
    resumes when the same command is run again. The model is built and
    compiled in the scope of `config.strategy`; in a multi-worker run the
    workers other than the chief write to `out/worker-<id>` instead.

    Args:
        config: the run's configuration.
        verbose: Keras' `fit` verbosity. Defaults to `"auto"` (a progress bar).
        print_fn: where messages and the summary table go; None for silence.

    Returns:
        The run record (the contents of `run.json`).

    Raises:
        TypeError: naming `config` when it is not a `TrainConfig`.
        ValueError: for unknown names, an out dir that cannot be written, or a
            strategy that cannot be created (no TPU, a bad `TF_CONFIG`).
        tf_pe.data.DatasetNotFoundError: when the dataset is not installed.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"`config` must be a TrainConfig, got {type(config).__name__}.")
    say = print_fn or (lambda *_: None)
    check_config(config)
    strategy = make_strategy(config.strategy)
    config = dataclasses.replace(config, out=worker_dir(config.out, strategy))
    prepare_out_dir(config.out)
    record_path = os.path.join(config.out, RECORD_NAME)
    record = {"status": "running", "config": config.to_dict(), "versions": versions()}
    write_json(record_path, record)
    try:
        _fit_and_save(config, strategy, record, verbose, say)
    except BaseException as e:
        record.update(status="failed", error=f"{type(e).__name__}: {e}")
        write_json(record_path, record)
        raise
    write_json(record_path, record)
    return record


def _fit_and_save(config: TrainConfig, strategy, record: dict, verbose, say) -> None:
    timings = {}
    start = time.perf_counter()

    keras.utils.set_random_seed(config.seed)
    info = data.info(config.dataset)
    train_ds = data.load(config.dataset, "train", config.batch_size, data_dir=config.data_dir,
                         seed=config.seed, take=config.take)
    test_ds = data.load(config.dataset, "test", config.batch_size, data_dir=config.data_dir,
                        shuffle=False, take=config.eval_take)
    train_ds, test_ds = shard_by_data(train_ds), shard_by_data(test_ds)
    timings["data_s"] = time.perf_counter() - start

    n_train = info.num_examples["train"]
    if config.take is not None:
        n_train = min(n_train, config.take)
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    with strategy.scope():
        model, method_callbacks = get_method(config.method).build(
            config, tuple(info.input_shape), info.num_classes)
        model.compile(
            optimizer=make_optimizer(config, steps_per_epoch * config.epochs),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    make_fit_compatible(model, strategy)
    timer = EpochTimer()
    backup_dir = os.path.join(config.out, BACKUP_NAME)
    start_epoch = restore_point(backup_dir)
    callbacks = [
        # First, so that every other callback sees the restored state.
        Backup(backup_dir),
        *method_callbacks,
        timer,
        keras.callbacks.CSVLogger(os.path.join(config.out, "history.csv"),
                                  append=start_epoch > 0),
    ]
    say(f"Training {config.model} on {config.dataset} with method {config.method!r} "
        f"for {config.epochs} epochs ({steps_per_epoch} steps each).")
    fit_start = time.perf_counter()
    # Each new iterator of `train_ds` draws the next epoch's shuffle and
    # augmentation; one repeated stream gives epoch e the e-th draw, and a
    # resumed run draws (and drops) those of the epochs already done.
    for _ in range(start_epoch):
        iter(train_ds)
    history = model.fit(train_ds.repeat(), steps_per_epoch=steps_per_epoch,
                        validation_data=test_ds, epochs=config.epochs,
                        callbacks=callbacks, verbose=verbose, shuffle=False)
    timings["fit_s"] = time.perf_counter() - fit_start
    timings["epoch_s"] = timer.seconds

    eval_start = time.perf_counter()
    test_loss, test_accuracy = model.evaluate(test_ds, verbose=0)
    timings["evaluate_s"] = time.perf_counter() - eval_start
    stats = summary(model, print_fn=say)
    model_path = os.path.join(config.out, MODEL_NAME)
    model.save(model_path)
    timings["total_s"] = time.perf_counter() - start

    record.update(
        status="done",
        metrics={"test_loss": float(test_loss), "test_accuracy": float(test_accuracy),
                 "history": {k: [float(v) for v in vs] for k, vs in history.history.items()}},
        summary=stats.to_dict(),
        timings=timings,
        files={"model": MODEL_NAME, "history": "history.csv"},
        callbacks=_callback_reports(method_callbacks),
    )
    say(f"Test accuracy: {test_accuracy:.4f} (loss {test_loss:.4f}); "
        f"{stats.total.active:,} active parameters, "
        f"{stats.total.effective_macs or 0:,} effective MACs per example. "
        f"Wrote {model_path} and {RECORD_NAME}.")


def _callback_reports(callbacks) -> dict:
    """What the method's structure-changing callbacks report (see
    `tf_pe.callbacks.MaskUpdateCallback.summary`), by class name."""
    reports = {}
    for callback in callbacks:
        if callable(getattr(callback, "summary", None)) and callable(
                getattr(callback, "report", None)):
            reports[type(callback).__name__] = {"summary": callback.summary(),
                                                "report": callback.report()}
    return reports

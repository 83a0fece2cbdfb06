"""Training jobs that `tests/training/test_resume.py` kills with SIGKILL and restarts.

    python -m tests.training.resume_worker '[{"job": "train", ...}, ...]'

runs the jobs one after another and skips those already done, so that the same
command restarted after a kill resumes the interrupted job and goes on. Jobs:

* `{"job": "train", **TrainConfig fields}`: `tf_pe.training.train`, which
  resumes from its `keras.callbacks.BackupAndRestore` backup;
* `{"job": "checkpoint", "out": dir, "epochs": n}`: a hand-built masked model
  with a `DynamicSparseReparam` callback, saved every epoch with
  `tf.train.Checkpoint` and restored from the latest checkpoint.
"""

import json
import os
import sys

import keras
import numpy as np
import tensorflow as tf

import tf_pe
from tf_pe.training import TrainConfig, train

FINAL_NAME = "final.weights.h5"


def run_train(spec: dict) -> None:
    """`tf_pe.training.train` on the configuration `spec`, unless already done."""
    record = os.path.join(spec["out"], "run.json")
    if os.path.exists(record):
        with open(record) as f:
            if json.load(f)["status"] == "done":
                return
    train(TrainConfig(**spec), verbose=0, print_fn=None)


def checkpoint_model() -> keras.Model:
    """A masked LeNet-300-100 at density 0.1, compiled with Adam."""
    keras.utils.set_random_seed(0)
    dense = tf_pe.models.lenet_300_100(input_shape=(28, 28, 1), num_classes=10)
    model = tf_pe.sparsify(dense, method="masked", density=0.1, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


class _SaveEveryEpoch(keras.callbacks.Callback):
    def __init__(self, epoch, manager):
        super().__init__()
        self.epoch, self.manager = epoch, manager

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.assign(epoch + 1)
        self.manager.save()


def run_checkpoint(spec: dict) -> None:
    """Trains `checkpoint_model()` on fixed random data for `spec["epochs"]`
    epochs, resuming from the latest `tf.train.Checkpoint` in `spec["out"]`;
    writes the final weights to `FINAL_NAME` there."""
    final = os.path.join(spec["out"], FINAL_NAME)
    if os.path.exists(final):
        return
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, size=256)
    model = checkpoint_model()
    model.optimizer.build(model.trainable_variables)
    epoch = tf.Variable(0, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=epoch)
    manager = tf.train.CheckpointManager(checkpoint, spec["out"], max_to_keep=2)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    callback = tf_pe.callbacks.DynamicSparseReparam(period=2, target_prune_fraction=0.05)
    model.fit(x, y, batch_size=64, epochs=spec["epochs"], initial_epoch=int(epoch.numpy()),
              shuffle=False, verbose=0, callbacks=[callback, _SaveEveryEpoch(epoch, manager)])
    model.save_weights(final)


def main(jobs: list[dict]) -> None:
    for spec in jobs:
        spec = dict(spec)
        kind = spec.pop("job")
        {"train": run_train, "checkpoint": run_checkpoint}[kind](spec)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))

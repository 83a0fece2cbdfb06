"""The Model Optimization Toolkit baseline of `tf-pe benchmark dsr`, in its own process.

tfmot 0.8 only prunes `tf_keras` (Keras 2) models, so this script runs with
`TF_USE_LEGACY_KERAS=1` and builds the same LeNets in `tf_keras`:
`prune_low_magnitude` with `PolynomialDecay` from 0 to the final sparsity (cubic,
ending at `--prune-end` of training, updated every `--prune-period` steps) on every
Dense and Conv2D kernel, each layer pruned to its density under `--distribution`
(`tf_pe.sparsity.distributions`: uniform, or ERK as the other sparse methods of the
benchmark), with the optimizer, learning-rate schedule, data and epochs of
`tf-pe train`. Writes `tfmot.json` (one row of the benchmark table):

    TF_USE_LEGACY_KERAS=1 python -m tf_pe.bench.tfmot_prune --model=lenet5 \
        --density=0.05 --epochs=3 --out=runs/tfmot
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

from absl import app, flags

flags.DEFINE_enum("model", "lenet5", ["lenet5", "lenet_300_100"], "network")
flags.DEFINE_float("density", 0.05, "final fraction of nonzero kernel weights")
flags.DEFINE_integer("epochs", 3, "epochs")
flags.DEFINE_integer("batch-size", 128, "batch size")
flags.DEFINE_integer("take", None, "train on the first N examples")
flags.DEFINE_integer("eval-take", None, "evaluate on the first N test examples")
flags.DEFINE_integer("prune-period", 100, "steps between pruning updates")
flags.DEFINE_float("prune-end", 0.75, "fraction of training at which pruning ends")
flags.DEFINE_enum("distribution", "uniform", ["uniform", "erk"], "per-layer densities")
flags.DEFINE_integer("seed", 0, "seed")
flags.DEFINE_string("data-dir", None, "tensorflow-datasets data dir")
flags.DEFINE_string("out", "runs/tfmot", "output directory")
FLAGS = flags.FLAGS


def build(keras, name: str):
    """The zoo's LeNet in tf_keras, with the zoo's layer names."""
    layers = keras.layers
    inputs = keras.Input((28, 28, 1))
    if name == "lenet5":
        x = layers.Conv2D(6, 5, padding="same", activation="relu", name="conv1")(inputs)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Conv2D(16, 5, activation="relu", name="conv2")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Flatten()(x)
        x = layers.Dense(120, activation="relu", name="fc1")(x)
        x = layers.Dense(84, activation="relu", name="fc2")(x)
    else:
        x = layers.Flatten()(inputs)
        x = layers.Dense(300, activation="relu", name="fc1")(x)
        x = layers.Dense(100, activation="relu", name="fc2")(x)
    return keras.Model(inputs, layers.Dense(10, name="logits")(x))


def count(model) -> dict:
    """Parameters, nonzero parameters, dense and effective MACs per example."""
    import numpy as np

    params = active = macs = effective = 0
    for layer in model.layers:
        for w in layer.weights:
            params += int(np.prod(w.shape))
            active += int(np.count_nonzero(w.numpy()))
        if hasattr(layer, "kernel"):
            positions = math.prod(int(d) for d in layer.output.shape[1:-1])
            macs += positions * int(np.prod(layer.kernel.shape))
            effective += positions * int(np.count_nonzero(layer.kernel.numpy()))
    return {"params": params, "active": active, "macs": macs, "effective_macs": effective}


def main(argv):
    del argv
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        sys.exit("run with TF_USE_LEGACY_KERAS=1 (tfmot needs tf_keras)")
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    from tf_pe import data
    from tf_pe.sparsity.distributions import layer_densities

    tf.keras.utils.set_random_seed(FLAGS.seed)
    train_ds = data.load("fashion_mnist", "train", FLAGS["batch-size"].value,
                         data_dir=FLAGS["data-dir"].value, seed=FLAGS.seed, take=FLAGS.take)
    test_ds = data.load("fashion_mnist", "test", FLAGS["batch-size"].value,
                        data_dir=FLAGS["data-dir"].value, shuffle=False,
                        take=FLAGS["eval-take"].value)
    n_train = min(60_000, FLAGS.take or 60_000)
    steps = math.ceil(n_train / FLAGS["batch-size"].value) * FLAGS.epochs
    end = max(1, round(FLAGS["prune-end"].value * steps))
    base = build(keras, FLAGS.model)
    prunable = [layer for layer in base.layers if hasattr(layer, "kernel")]
    densities = dict(zip(
        [layer.name for layer in prunable],
        layer_densities([tuple(layer.kernel.shape) for layer in prunable], FLAGS.density,
                        FLAGS.distribution), strict=True))

    def prune(layer):
        if layer.name not in densities:
            return layer.__class__.from_config(layer.get_config())
        schedule = tfmot.sparsity.keras.PolynomialDecay(
            initial_sparsity=0.0, final_sparsity=1 - densities[layer.name], begin_step=0,
            end_step=end, frequency=min(FLAGS["prune-period"].value, end))
        return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)

    model = keras.models.clone_model(base, clone_function=prune)
    lr = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps)
    model.compile(keras.optimizers.Adam(lr),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(train_ds, epochs=FLAGS.epochs, verbose=0,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    fit_s = time.perf_counter() - start
    stripped = tfmot.sparsity.keras.strip_pruning(model)
    stripped.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                     metrics=["accuracy"])
    _, accuracy = stripped.evaluate(test_ds, verbose=0)
    row = {"model": FLAGS.model, "method": "tfmot", "density": FLAGS.density,
           "accuracy": float(accuracy), "fit_s": fit_s, "out": FLAGS.out,
           "distribution": FLAGS.distribution, "layer_densities": densities,
           "versions": {"tfmot": tfmot.__version__, "tf_keras": keras.__version__},
           **count(stripped)}
    os.makedirs(FLAGS.out, exist_ok=True)
    with open(os.path.join(FLAGS.out, "tfmot.json"), "w") as f:
        json.dump(row, f, indent=1)
    print(json.dumps(row))


if __name__ == "__main__":
    app.run(main)

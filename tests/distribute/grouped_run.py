"""Trains one block-pattern `SparseChannelConv2D` model under `MirroredStrategy` on
two logical CPU devices with each dispatch mode ("grouped", then "dense"), from the
same initial weights and data, with `DensifyEvery` changing the mask mid-run (so the
grouped trace falls back to masked dense), and writes the final kernels and masks of
each and whether the replicas agreed (`python -m tests.distribute.grouped_run OUT`)."""

import json
import os
import sys


def main(out_path):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import numpy as np

    import tf_pe
    from tf_pe.ops import dispatch

    traced = []  # calls of grouped_conv2d while tracing (the layer looks it up in tf_pe.ops)
    grouped_conv2d = tf_pe.ops.grouped_conv2d
    tf_pe.ops.grouped_conv2d = lambda *a, **k: traced.append(1) or grouped_conv2d(*a, **k)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 12)).astype("float32")
    y = rng.integers(0, 4, size=64)
    results = {}
    for mode in ("grouped", "dense"):
        dispatch.set_mode(mode)
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = keras.Sequential([
                keras.Input((8, 8, 12)),
                tf_pe.layers.SparseChannelConv2D(12, 3, density=0.25, pattern="block", seed=1,
                                                 padding="same", name="conv"),
                keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4)])
            model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False,
                            callbacks=[tf_pe.callbacks.DensifyEvery(5)])
        conv = model.get_layer("conv")
        replicas = [np.asarray(v) for v in strategy.experimental_local_results(conv.kernel)]
        results[mode] = {"kernel": conv.kernel.numpy().tolist(), "mask": conv.mask.numpy().tolist(),
                         "loss": history.history["loss"], "grouped_traced": len(traced),
                         "replicas_equal": all(np.array_equal(replicas[0], r) for r in replicas)}
    with open(out_path, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1])

"""Trains every case of `cases.py` under `MirroredStrategy` on two logical CPU
devices and writes what it saw to a JSON file (`python -m
tests.distribute.mirrored_run OUT.json`).

Run as a subprocess: the logical devices must be configured before TensorFlow
initializes, which pytest's own process has long done. After every training
step, every variable of every tf_pe layer is read on each replica
(`strategy.experimental_local_results`) and compared; the custom op is forced
(`dispatch` mode "op") so that SparseChannelConv2D runs it on both replicas.
"""

import json
import os
import sys
import tempfile


def main(out_path):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import numpy as np

    import tf_pe
    from tests.distribute import cases
    from tf_pe.ops import dispatch, loader

    dispatch.set_mode("op")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    class ReplicaCheck(keras.callbacks.Callback):
        """After every step: are all replicas' copies of every variable equal?"""

        def __init__(self):
            super().__init__()
            self.steps, self.unequal, self.stale_kernel = 0, [], []
            self.mask_changes = {}
            self._last = None

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            for layer, variables in cases.state_variables(self.model).items():
                for name, variable in variables.items():
                    copies = [np.asarray(v) for v in
                              strategy.experimental_local_results(variable.value)]
                    if not all(np.array_equal(copies[0], c) for c in copies[1:]):
                        self.unequal.append([self.steps, layer, name])
                if "threshold" in variables:  # masked layers store masked entries as zeros
                    mask, kernel = variables["mask"].numpy(), variables["kernel"].numpy()
                    if np.any(kernel[mask == 0] != 0):
                        self.stale_kernel.append([self.steps, layer])
            masks = cases.masks_of(self.model)
            for layer, mask in masks.items():
                changed = self._last is not None and not np.array_equal(mask, self._last[layer])
                self.mask_changes[layer] = self.mask_changes.get(layer, 0) + int(changed)
            self._last = masks

    results = {"replicas": strategy.num_replicas_in_sync, "op_loaded": loader.load() is not None,
               "cases": {}}
    for case in cases.CASES:
        with strategy.scope():
            model = cases.build_model(seed=0)
        before = {layer: {n: np.asarray(v.numpy()) for n, v in vs.items()}
                  for layer, vs in cases.state_variables(model).items()}
        check = ReplicaCheck()
        log_dir = tempfile.mkdtemp()
        callbacks = [cases.make_callback(name, log_dir) for name in cases.CASES[case]]
        model.fit(cases.dataset(tf), epochs=cases.EPOCHS, callbacks=[*callbacks, check],
                  verbose=0)
        after = cases.state_variables(model)
        stats = tf_pe.summary(model, print_fn=None)
        results["cases"][case] = {
            "steps": check.steps, "unequal": check.unequal, "stale_kernel": check.stale_kernel,
            "mask_changes": check.mask_changes,
            "trained": {layer: bool(not np.array_equal(before[layer][name],
                                                       after[layer][name].numpy()))
                        for layer in after
                        for name in ("kernel", "coefficients") if name in after[layer]},
            "summary_active": stats.total.active,
            "summaries_written": sum(len(files) for _, _, files in os.walk(log_dir)),
        }
    results["lre_amc"] = _lre_amc(tf, keras, np, strategy)
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1)


def _lre_amc(tf, keras, np, strategy):
    """One LRE-AMC step on a trained MLP, called in the strategy's scope."""
    from tf_pe import compression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 20)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, (x[:, 0] > 0).astype("int64"))).batch(32)
    with strategy.scope():
        inputs = keras.Input((20,))
        hidden = keras.layers.Dense(16, activation="relu")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
        model.compile(optimizer="adam", metrics=["accuracy"],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(data, epochs=2, verbose=0)
    with strategy.scope():
        small, _ = compression.lre_amc(model, data, data, epsilon=1.0, max_epochs=1,
                                       max_steps=1, stats_batches=1, print_fn=None)
    copies = [[np.asarray(c) for c in strategy.experimental_local_results(v.value)]
              for v in small.weights]
    return {"params": [model.count_params(), small.count_params()],
            "replicated": all(len(c) == 2 for c in copies),
            "identical": all(np.array_equal(c[0], c[1]) for c in copies)}


if __name__ == "__main__":
    main(sys.argv[1])

"""One worker of a two-process `MultiWorkerMirroredStrategy` run on 127.0.0.1
(`TF_CONFIG` comes from the environment): trains every case of `cases.py` and
writes, after every training step, each tf_pe layer's mask, threshold,
densification step and a digest of its kernel to `OUT_DIR/worker-<index>.json`
(`python -m tests.distribute.worker_run OUT_DIR`).

Layers draw their own seeds (`seed=None`): the workers only agree because the
strategy broadcasts initial values and the callbacks seed their choices from
variables. SparseChannelConv2D runs its default dispatch (the masked dense
convolution at these densities).
"""

import hashlib
import json
import os
import sys
import tempfile


def main(out_dir):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    from tests.distribute import cases
    from tf_pe.training.strategy import (
        is_chief,
        make_fit_compatible,
        make_strategy,
        shard_by_data,
        worker_dir,
    )

    strategy = make_strategy("multi_worker")
    index = strategy.cluster_resolver.task_id

    class Record(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.steps = []

        def on_train_batch_end(self, batch, logs=None):
            step = {}
            for layer, variables in cases.state_variables(self.model).items():
                kernel = variables.get("kernel", variables.get("coefficients"))
                step[layer] = {name: np.asarray(variables[name].numpy()).tolist()
                               for name in ("mask", "threshold", "densify_step")
                               if name in variables}
                step[layer]["kernel_sha"] = hashlib.sha256(
                    np.ascontiguousarray(kernel.numpy()).tobytes()).hexdigest()
            self.steps.append(step)

    results = {"replicas": strategy.num_replicas_in_sync, "chief": is_chief(strategy),
               "worker_dir": worker_dir("out", strategy), "cases": {}}
    for case, names in cases.CASES.items():
        with strategy.scope():
            model = make_fit_compatible(cases.build_model(), strategy)
        record = Record()
        log_dir = tempfile.mkdtemp()
        history = model.fit(shard_by_data(cases.dataset(tf)), epochs=cases.EPOCHS,
                            callbacks=[*(cases.make_callback(n, log_dir) for n in names), record],
                            verbose=0)
        results["cases"][case] = {"steps": record.steps, "loss": history.history["loss"]}
    with open(os.path.join(out_dir, f"worker-{index}.json"), "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1])

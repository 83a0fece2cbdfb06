"""`tf-pe benchmark distribute`: training throughput under `MirroredStrategy`, and
checkpoint save/restore times of a sparse WRN-16-2.

Both parts run in one subprocess that first splits the CPU into two logical
devices (TensorFlow allows that only before it initializes):

* throughput: a DSR LeNet-5 (masked layers at density 0.1, Mostafa & Wang's
  reparameterization every 100 steps) on Fashion-MNIST, trained with the
  default strategy (one device) and with `MirroredStrategy` over the two logical
  devices, same global batch. After one warm-up round each (tracing), rounds
  alternate between the two; a round is one `fit` of `steps` steps, and its
  examples per second count the whole `fit` call. Reported: the median of each
  and the ratio of medians. Two logical devices share the same cores and thread
  pools, so this measures the strategy's overhead, not a multi-device speedup.
* checkpoints: a channel-sparse WRN-16-2 (density 0.1) with its SGD-momentum
  slots, written and read back with `tf.train.Checkpoint` (under each strategy)
  and saved and loaded as a `.keras` file; medians of `repeats` times, file
  sizes, and a check that the restored masks equal the saved ones.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np

from tf_pe.bench.registry import Benchmark, BenchOptions, register_benchmark

FULL = {"batch": 128, "steps": 50, "rounds": 5, "take": 12_800, "repeats": 5}
QUICK = {"batch": 32, "steps": 3, "rounds": 2, "take": 256, "repeats": 1}
DENSITY = 0.1


def _size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def _throughput(strategies, settings, data_dir, seed):
    from tf_pe import callbacks, data, models, sparsify

    dataset = data.load("fashion_mnist", "train", settings["batch"], data_dir=data_dir,
                        seed=seed, take=settings["take"], repeat=True)
    runs = {}
    for name, strategy in strategies.items():
        keras.utils.set_random_seed(seed)
        with strategy.scope():
            model = sparsify(models.get("lenet5", input_shape=(28, 28, 1), num_classes=10),
                             method="masked", density=DENSITY, seed=seed)
            model.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        runs[name] = (model, callbacks.DynamicSparseReparam(period=100))
    fit_s = {name: [] for name in strategies}
    steady_s = {name: [] for name in strategies}
    for round_ in range(settings["rounds"] + 1):
        for name, (model, dsr) in runs.items():
            clock = _StepClock()
            start = time.perf_counter()
            model.fit(dataset, steps_per_epoch=settings["steps"], epochs=1,
                      callbacks=[dsr, clock], verbose=0)
            if round_ > 0:  # round 0 traces the step function
                fit_s[name].append(time.perf_counter() - start)
                steady_s[name].append(clock.ends[-1] - clock.ends[0])
    batch, steps = settings["batch"], settings["steps"]
    result = {}
    for name in strategies:
        result[name] = {
            "fit_examples_per_s": [steps * batch / s for s in fit_s[name]],
            "steady_examples_per_s": [(steps - 1) * batch / s for s in steady_s[name]],
            "replicas": strategies[name].num_replicas_in_sync,
            "reparam_steps": len(runs[name][1].history)}
        for kind in ("fit", "steady"):
            result[name][f"median_{kind}_examples_per_s"] = statistics.median(
                result[name][f"{kind}_examples_per_s"])
    for kind in ("fit", "steady"):
        key = f"median_{kind}_examples_per_s"
        result[f"{kind}_ratio_mirrored_over_one"] = (result["mirrored"][key]
                                                     / result["one_device"][key])
    return result


class _StepClock(keras.callbacks.Callback):
    """Records the time at the end of every training step."""

    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def _sparse_model(strategy, seed, name="wrn_16_2", input_shape=(32, 32, 3)):
    """A channel-sparse zoo model, compiled, with optimizer slots (one step on noise)."""
    from tf_pe import models, sparsify

    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = sparsify(models.get(name, input_shape=input_shape, num_classes=10),
                         method="channel", density=DENSITY, seed=seed)
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, *input_shape)).astype("float32")
    model.fit(x, rng.integers(0, 10, 32), batch_size=32, epochs=1, verbose=0)  # slots exist
    return model


def _mask_variables(model):
    from tf_pe.sparsity import find_sparse_layers

    return [mask for layer in find_sparse_layers(model) for _, mask in layer.sparse_weights()]


def _masks(model):
    return [np.asarray(mask.numpy()) for mask in _mask_variables(model)]


def _timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _checkpoints(tf, strategies, repeats, seed, model_args=()):
    results = {}
    work = tempfile.mkdtemp()
    for name, strategy in strategies.items():
        model = _sparse_model(strategy, seed, *model_args)
        saved = _masks(model)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
        prefix = os.path.join(work, f"{name}-ckpt")
        write_s = _timed(lambda checkpoint=checkpoint, prefix=prefix: checkpoint.write(prefix),
                         repeats)
        for mask in _mask_variables(model):
            mask.assign(np.zeros(mask.shape, np.float32))  # restore must bring them back
        read_s = _timed(lambda checkpoint=checkpoint, prefix=prefix:
                        checkpoint.read(prefix).assert_existing_objects_matched(), repeats)
        restored = all(np.array_equal(a, b) for a, b in zip(saved, _masks(model), strict=True))
        results[name] = {"checkpoint_write_s": write_s, "checkpoint_read_s": read_s,
                         "checkpoint_bytes": sum(_size(os.path.join(work, f))
                                                 for f in os.listdir(work)
                                                 if f.startswith(f"{name}-ckpt")),
                         "masks_restored": restored, "params": model.count_params()}
        if name == "one_device":
            results[name].update(_keras_file(model, saved, work, repeats))
    return results


def _keras_file(model, saved, work, repeats):
    """Times `model.save` and `keras.saving.load_model` of a `.keras` file."""
    path = os.path.join(work, "model.keras")
    save_s = _timed(lambda: model.save(path), repeats)
    loaded = []
    load_s = _timed(lambda: loaded.append(keras.saving.load_model(path)), repeats)
    return {"keras_save_s": save_s, "keras_load_s": load_s, "keras_bytes": _size(path),
            "keras_masks_restored": all(np.array_equal(a, b) for a, b in
                                        zip(saved, _masks(loaded[-1]), strict=True))}


# The subprocess: two logical CPU devices before anything initializes TensorFlow.
_CHILD = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tf_pe.bench.distribute import child
print(json.dumps(child(**json.loads(sys.argv[1]))))
"""


def child(settings: dict, data_dir: str | None, seed: int) -> dict:
    """The measurements, in a process whose CPU is split into two logical devices.

    Raises:
        RuntimeError: when there are not two logical CPU devices.
    """
    import tensorflow as tf

    if len(tf.config.list_logical_devices("CPU")) != 2:
        raise RuntimeError("the distribute benchmark needs two logical CPU devices")

    strategies = {"one_device": tf.distribute.get_strategy(),
                  "mirrored": tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])}
    return {"throughput": _throughput(strategies, settings, data_dir, seed),
            "wrn_16_2": _checkpoints(tf, strategies, settings["repeats"], seed)}


def _markdown(results) -> str:
    t, c = results["throughput"], results["wrn_16_2"]
    s = results["settings"]
    lines = [
        f"DSR LeNet-5 (density {DENSITY}), Fashion-MNIST, global batch {s['batch']}, "
        f"{s['rounds']} alternating rounds of {s['steps']} steps:", "",
        "| strategy | replicas | examples/s, steps 2..N | examples/s, whole fit call |",
        "|---|---|---|---|",
        *(f"| {name} | {t[name]['replicas']} | {t[name]['median_steady_examples_per_s']:.0f} | "
          f"{t[name]['median_fit_examples_per_s']:.0f} |" for name in ("one_device", "mirrored")),
        "", f"Mirrored (2 logical CPUs) / one device: x{t['steady_ratio_mirrored_over_one']:.2f} "
        f"(steps), x{t['fit_ratio_mirrored_over_one']:.2f} (whole fit calls).", "",
        f"Channel-sparse WRN-16-2 (density {DENSITY}), median of {s['repeats']}:", "",
        "| strategy | tf.train.Checkpoint write s | read s | MB | .keras save s | load s | MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in c.items():
        keras_cells = (f"{r['keras_save_s']:.3f} | {r['keras_load_s']:.3f} | "
                       f"{r['keras_bytes'] / 1e6:.2f}" if "keras_save_s" in r else "- | - | -")
        lines.append(f"| {name} | {r['checkpoint_write_s']:.3f} | {r['checkpoint_read_s']:.3f} | "
                     f"{r['checkpoint_bytes'] / 1e6:.2f} | {keras_cells} |")
    return "\n".join(lines) + "\n"


def run(options: BenchOptions) -> dict:
    """Runs the benchmark in a subprocess; writes results.json and results.md.

    Raises:
        RuntimeError: when the subprocess fails (its stderr is included).
    """
    settings = QUICK if options.quick else FULL
    os.makedirs(options.out, exist_ok=True)
    args = json.dumps({"settings": settings, "data_dir": options.data_dir, "seed": options.seed})
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", _CHILD, args], capture_output=True, text=True,
                          env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the distribute benchmark failed:\n{done.stderr[-4000:]}")
    results = json.loads(done.stdout.strip().splitlines()[-1])
    results.update(settings=settings, machine=f"{platform.processor() or platform.machine()}, "
                                              f"{os.cpu_count()} CPUs")
    with open(os.path.join(options.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    table = _markdown(results)
    with open(os.path.join(options.out, "results.md"), "w") as f:
        f.write(table)
    print(table)
    return results


register_benchmark(Benchmark(
    "distribute", "MirroredStrategy throughput and sparse WRN-16-2 checkpoint times (issue 9)",
    run))

"""`tf-pe benchmark export`: what export costs and keeps, per method (issue 8).

Trains LeNet-5 on Fashion-MNIST densely (the demo model) and with each method
(channel-sparse, DSR, weight prediction; `tf_pe.training.train`, short runs),
compresses the dense one with LRE-AMC, and exports each model as `.keras`, as a
stripped SavedModel and as TFLite (float32, dynamic-range and int8, with the
sparsity encoding). Reports the file sizes, the TFLite accuracy on the test split
next to the Keras model's, and the single-image latency of every TFLite file,
measured interleaved in this process (one interpreter thread, XNNPACK where it
accepts the file) and given as a ratio to the dense model's file of the same
quantization.

Writes `results.json` and `results.md`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import time

import keras
import numpy as np

from tf_pe import data
from tf_pe.bench.registry import Benchmark, BenchOptions, register_benchmark
from tf_pe.compression import lre_amc
from tf_pe.export import interpreter as runtime
from tf_pe.export import to_saved_model, to_tflite
from tf_pe.sparsity import summary
from tf_pe.training import TrainConfig, train


@dataclasses.dataclass(frozen=True)
class Settings:
    """What one benchmark invocation runs."""

    methods: tuple[str, ...] = ("dense", "channel", "dsr", "predict", "lre")
    epochs: int = 2
    take: int | None = None
    density: float = 0.1
    eval_take: int | None = None
    representative_take: int = 500
    quantizations: tuple[str | None, ...] = (None, "dynamic", "int8")
    lre_epsilon: float = 0.05
    lre_max_epochs: int = 1
    lre_take: int = 10_000
    lre_val: str = "train[55000:]"
    latency_runs: int = 200
    latency_rounds: int = 5


FULL = Settings()
QUICK = Settings(methods=("dense", "channel"), epochs=1, take=256, eval_take=256,
                 quantizations=(None, "dynamic"), latency_runs=10, latency_rounds=2)


def _train(method: str, s: Settings, options: BenchOptions, out: str) -> keras.Model:
    sparse = {"density": s.density} if method in ("channel", "dsr") else {}
    train(TrainConfig(model="lenet5", method=method, epochs=s.epochs, take=s.take,
                      eval_take=s.eval_take, seed=options.seed, data_dir=options.data_dir,
                      out=out, **sparse),
          verbose=0, print_fn=None)
    return keras.saving.load_model(os.path.join(out, "model.keras"))


def _lre(dense: keras.Model, s: Settings, options: BenchOptions, out: str) -> keras.Model:
    dd = options.data_dir
    train_ds = data.load("fashion_mnist", "train", 128, data_dir=dd, seed=options.seed,
                         take=s.lre_take)
    val_ds = data.load("fashion_mnist", s.lre_val, 256, data_dir=dd, shuffle=False)
    small, _ = lre_amc(dense, train_ds, val_ds, epsilon=s.lre_epsilon,
                       max_epochs=s.lre_max_epochs, print_fn=None)
    os.makedirs(out, exist_ok=True)
    small.save(os.path.join(out, "model.keras"))
    return small


def _export(name, model, out, test_ds, representative, s: Settings) -> dict:
    row = {"model": name, "keras_bytes": os.path.getsize(os.path.join(out, "model.keras")),
           "active_params": summary(model, print_fn=None).total.active}
    row["saved_model_bytes"] = to_saved_model(model, os.path.join(out, "saved_model")).size_bytes
    row["tflite"] = {}
    for q in s.quantizations:
        path = os.path.join(out, f"model.{q or 'float'}.tflite")
        report = to_tflite(model, path, quantize=q,
                           representative_data=representative if q == "int8" else None,
                           test_data=test_ds)
        row["tflite"][q or "float"] = {**report.to_dict(), "agreement": dataclasses.asdict(
            report.agreement)}
    return row


def measure_latency(files: dict, example: np.ndarray, runs: int, rounds: int) -> dict:
    """Median single-image invoke time (ms) of each TFLite file, interleaved:
    every round times `runs` invocations of each file in turn.

    Args:
        files: `{key: path}`.
        example: one input, batch 1.
        runs: invocations per file per round.
        rounds: rounds.

    Returns:
        `{key: {"median_ms": ..., "xnnpack": ...}}`.
    """
    interps, times = {}, {key: [] for key in files}
    for key, path in files.items():
        with open(path, "rb") as f:
            interps[key] = runtime.load(f.read(), example, num_threads=1)
    for _ in range(rounds):
        for key, (interp, _) in interps.items():
            times[key] += runtime.latency_s(interp, example, runs)
    return {key: {"median_ms": 1e3 * statistics.median(times[key]),
                  "xnnpack": interps[key][1]} for key in files}


def run(options: BenchOptions, settings: Settings | None = None) -> dict:
    """Trains, exports and measures every model of `settings`; writes the results."""
    s = settings or (QUICK if options.quick else FULL)
    os.makedirs(options.out, exist_ok=True)
    start = time.perf_counter()
    dd = options.data_dir
    test_ds = data.load("fashion_mnist", "test", 256, data_dir=dd, shuffle=False,
                        take=s.eval_take)
    representative = data.load("fashion_mnist", "train", 100, data_dir=dd, shuffle=False,
                               take=s.representative_take)
    rows, models = [], {}
    for method in s.methods:
        out = os.path.join(options.out, method)
        t0 = time.perf_counter()
        if method == "lre":
            models[method] = _lre(models["dense"], s, options, out)
        else:
            models[method] = _train(method, s, options, out)
        row = _export(method, models[method], out, test_ds, representative, s)
        row["train_s"] = time.perf_counter() - t0
        rows.append(row)
        print(f"[export bench] {method}: " + ", ".join(
            f"{q} {r['size_bytes']:,} B {r['agreement']['tflite_accuracy']:.4f}"
            for q, r in row["tflite"].items()), flush=True)
    example = next(iter(test_ds))[0].numpy()[:1]
    files = {(r["model"], q): t["path"] for r in rows for q, t in r["tflite"].items()}
    latency = measure_latency(files, example, s.latency_runs, s.latency_rounds)
    for r in rows:
        for q, t in r["tflite"].items():
            t["latency_ms"] = latency[(r["model"], q)]["median_ms"]
            t["latency_xnnpack"] = latency[(r["model"], q)]["xnnpack"]
            t["latency_vs_dense"] = t["latency_ms"] / latency[("dense", q)]["median_ms"]
    result = {"settings": dataclasses.asdict(s), "seed": options.seed,
              "runtime": runtime.runtime_name(), "rows": rows,
              "wall_s": time.perf_counter() - start}
    with open(os.path.join(options.out, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(options.out, "results.md"), "w") as f:
        f.write(table(rows, s.quantizations) + "\n")
    print(table(rows, s.quantizations))
    return result


def table(rows: list[dict], quantizations) -> str:
    """Sizes in KiB ("s": the file uses TFLite's sparse encoding), accuracies in %,
    latency as ms and ratio to dense ("†": without XNNPACK)."""
    keys = [q or "float" for q in quantizations]
    head = ("| model | active params | .keras KiB | SavedModel KiB | "
            + " | ".join(f"TFLite {k} KiB" for k in keys) + " | Keras acc. | "
            + " | ".join(f"TFLite {k} acc." for k in keys) + " | "
            + " | ".join(f"{k} latency ms (vs dense)" for k in keys) + " |")
    lines = [head, "|---|" + "---:|" * (3 + 3 * len(keys) + 1)]
    for r in rows:
        t = r["tflite"]
        keras_acc = t[keys[0]]["agreement"]["keras_accuracy"]
        cells = [r["model"], f"{r['active_params']:,}", f"{r['keras_bytes'] / 1024:.1f}",
                 f"{r['saved_model_bytes'] / 1024:.1f}"]
        cells += [f"{t[k]['size_bytes'] / 1024:.1f}" + (" s" if t[k]["sparse_encoding"] else "")
                  for k in keys]
        cells.append(f"{100 * keras_acc:.2f}")
        cells += [f"{100 * t[k]['agreement']['tflite_accuracy']:.2f}" for k in keys]
        cells += [f"{t[k]['latency_ms']:.3f} ({t[k]['latency_vs_dense']:.2f}x)"
                  + ("" if t[k]["latency_xnnpack"] else " †") for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


register_benchmark(Benchmark(
    name="export",
    description="export per method: .keras/SavedModel/TFLite sizes, TFLite accuracy, latency",
    run=run,
))

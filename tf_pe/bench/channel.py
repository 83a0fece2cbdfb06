"""`tf-pe benchmark channel`: sparse random vs depth multiplier, and incremental training.

Reproduces, on Fashion-MNIST with `changpinyo_mnist`, the experiments of Changpinyo,
Sandler, Zhmoginov 2017, "The Power of Sparsity in Convolutional Neural Networks":

* Figures 2-3: accuracy against parameters and against multiply-adds for
  channel-sparse random convolutions (`--method=channel --density=d`) and for the
  depth-multiplier baseline. Each depth-multiplier network is chosen with the
  `alpha` whose network has the parameter count closest to the sparse network's
  active parameters (both counted by `tf_pe.summary`), so the two are compared at
  equal parameters.
* Figure 6: incremental training, starting at 1% of the connections and doubling
  them every `T` steps, against the full-density network for the same steps.

Every point is a `tf_pe.training.train` run whose files stay under `out/runs/`; the
benchmark writes `results.json`, `results.md`, `results.png` and `masks.png` (the
connection masks of the sparse network nearest density 0.1) into `out`.
"""

from __future__ import annotations

import math
import os
import platform
import time

from tf_pe import models
from tf_pe.bench.registry import Benchmark, BenchOptions, register_benchmark
from tf_pe.sparsity import summary
from tf_pe.training import TrainConfig, train
from tf_pe.training.channel import build_channel
from tf_pe.training.record import versions, write_json

MODEL = "changpinyo_mnist"
FULL_SETTINGS = {"take": 30_000, "eval_take": None, "epochs": 2, "batch_size": 128,
                 "densities": (0.5, 0.25, 0.1, 0.05, 0.02), "doublings_before_end": 10}
QUICK_SETTINGS = {"take": 512, "eval_take": 256, "epochs": 1, "batch_size": 64,
                  "densities": (0.25, 0.05), "doublings_before_end": 8}
# The expectation of issue 3 is checked at these budgets and below (the paper's alpha).
LOW_BUDGET = 0.1
# The densified network should end within this accuracy of the full-density one.
DENSIFY_TOLERANCE = 0.005
INITIAL_DENSITY = 0.01


def _params(**kwargs) -> int:
    model = models.get(MODEL, input_shape=(28, 28, 1), num_classes=10, **kwargs)
    return summary(model, print_fn=None).total.params


def matching_depth_multiplier(target_params: int) -> float:
    """The depth multiplier whose `changpinyo_mnist` has parameters closest to
    `target_params` (bisection on alpha, whose parameter count is monotone)."""
    lo, hi = 1e-4, 1.0
    for _ in range(30):
        mid = math.sqrt(lo * hi)
        if _params(depth_multiplier=mid) < target_params:
            lo = mid
        else:
            hi = mid
    return min((lo, hi), key=lambda a: abs(_params(depth_multiplier=a) - target_params))


def _sparse_active_params(density: float, seed: int) -> int:
    config = TrainConfig(model=MODEL, method="channel", density=density, seed=seed)
    model, _ = build_channel(config, (28, 28, 1), 10)
    return summary(model, print_fn=None).total.active


def _run(name: str, options: BenchOptions, settings: dict, **fields) -> dict:
    config = TrainConfig(model=MODEL, dataset="fashion_mnist", epochs=settings["epochs"],
                         batch_size=settings["batch_size"], take=settings["take"],
                         eval_take=settings["eval_take"], data_dir=options.data_dir,
                         seed=options.seed, out=os.path.join(options.out, "runs", name),
                         **fields)
    start = time.perf_counter()
    record = train(config, verbose=0, print_fn=None)
    total = record["summary"]["total"]
    return {
        "name": name, "method": config.method, "density": config.density,
        "depth_multiplier": config.depth_multiplier, "densify_every": config.densify_every,
        "params": total["params"], "active": total["active"], "macs": total["macs"],
        "effective_macs": total["effective_macs"],
        "test_accuracy": record["metrics"]["test_accuracy"],
        "val_accuracy_per_epoch": record["metrics"]["history"]["val_accuracy"],
        "fit_s": record["timings"]["fit_s"], "wall_s": time.perf_counter() - start,
    }


def run_channel_benchmark(options: BenchOptions) -> dict:
    """Runs the benchmark and writes `results.json`, `results.md`, `results.png`,
    `masks.png`.

    Args:
        options: output directory, quick mode, seed and data dir.

    Returns:
        The results (the contents of `results.json`).
    """
    settings = dict(QUICK_SETTINGS if options.quick else FULL_SETTINGS)
    os.makedirs(options.out, exist_ok=True)
    start = time.perf_counter()
    n_train = min(settings["take"], 60_000)
    steps = math.ceil(n_train / settings["batch_size"]) * settings["epochs"]
    every = max(1, steps // settings["doublings_before_end"])
    settings.update(steps=steps, densify_every=every, initial_density=INITIAL_DENSITY)

    full = _run("full", options, settings, method="dense")
    sparse, depth = [], []
    for density in settings["densities"]:
        sparse.append(_run(f"sparse_{density:g}", options, settings, method="channel",
                           density=density))
        alpha = matching_depth_multiplier(_sparse_active_params(density, options.seed))
        depth.append(_run(f"depth_{density:g}", options, settings, method="dense",
                          depth_multiplier=alpha))
    incremental = _run("incremental", options, settings, method="channel", density=1.0,
                       densify_every=every, initial_density=INITIAL_DENSITY)

    comparisons = [
        {"density": s["density"], "sparse_active": s["active"], "depth_params": d["active"],
         "depth_multiplier": d["depth_multiplier"], "sparse_accuracy": s["test_accuracy"],
         "depth_accuracy": d["test_accuracy"],
         "sparse_minus_depth": s["test_accuracy"] - d["test_accuracy"]}
        for s, d in zip(sparse, depth, strict=True)]
    low = [c for c in comparisons if c["density"] <= LOW_BUDGET]
    gap = full["test_accuracy"] - incremental["test_accuracy"]
    results = {
        "benchmark": "channel", "model": MODEL, "dataset": "fashion_mnist",
        "quick": options.quick, "seed": options.seed, "settings": settings,
        "machine": {"processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), **versions()},
        "full": full, "sparse": sparse, "depth_multiplier": depth,
        "incremental": incremental, "comparisons": comparisons,
        "expectations": {
            "sparse_at_least_depth_at_low_budget": all(
                c["sparse_minus_depth"] >= 0 for c in low),
            "incremental_within_0.5_points": gap <= DENSIFY_TOLERANCE,
            "incremental_gap": gap,
        },
        "wall_s": time.perf_counter() - start,
    }
    write_json(os.path.join(options.out, "results.json"), results)
    with open(os.path.join(options.out, "results.md"), "w") as f:
        f.write(markdown_table(results))
    plot(results, os.path.join(options.out, "results.png"))
    shown = min(settings["densities"], key=lambda d: abs(d - LOW_BUDGET))
    mask_figure(os.path.join(options.out, "runs", f"sparse_{shown:g}", "model.keras"),
                os.path.join(options.out, "masks.png"))
    return results


def markdown_table(results: dict) -> str:
    """Returns the results as Markdown tables."""
    full_params = results["full"]["params"]
    lines = [
        "| network | density / alpha | active params | % of full | eff. MACs | test acc. |",
        "|---|---|---|---|---|---|",
    ]
    rows = [("full (dense)", "1", results["full"])]
    for s, d in zip(results["sparse"], results["depth_multiplier"], strict=True):
        rows.append(("sparse random", f"{s['density']:g}", s))
        rows.append(("depth multiplier", f"{d['depth_multiplier']:.4f}", d))
    rows.append(("incremental (1% x2 every "
                 f"{results['incremental']['densify_every']} steps)", "0.01 -> 1",
                 results["incremental"]))
    for label, budget, r in rows:
        lines.append(f"| {label} | {budget} | {r['active']:,} | "
                     f"{100 * r['active'] / full_params:.1f} | {r['effective_macs']:,} | "
                     f"{100 * r['test_accuracy']:.2f} |")
    lines += ["", "| sparse density | sparse acc. | depth-mult. acc. (equal params) | "
              "sparse - depth (points) |", "|---|---|---|---|"]
    for c in results["comparisons"]:
        lines.append(f"| {c['density']:g} | {100 * c['sparse_accuracy']:.2f} | "
                     f"{100 * c['depth_accuracy']:.2f} | "
                     f"{100 * c['sparse_minus_depth']:+.2f} |")
    gap = results["expectations"]["incremental_gap"]
    lines += ["", f"Full minus incremental: {100 * gap:+.2f} points."]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: str) -> None:
    """Draws accuracy vs active parameters, vs effective MACs, and per-epoch accuracy
    of the full and incremental runs, into a PNG at `path`."""
    from tf_pe.viz import accuracy_vs_cost
    from tf_pe.viz.figure import finish, panels, series, style

    fig, axes = panels(1, 3, None, (5, 4.2))
    points = [{"method": label, "params": p["active"], "macs": p["effective_macs"],
               "accuracy": p["test_accuracy"]}
              for key, label in (("sparse", "sparse random"),
                                 ("depth_multiplier", "depth multiplier"))
              for p in (results["full"], *results[key])]
    for ax, cost in zip(axes[:2], ("params", "macs"), strict=True):
        accuracy_vs_cost(points, cost=cost, ax=ax, log=True)
    series(axes[2], {label: [(e, 100 * a) for e, a in enumerate(
        results[key]["val_accuracy_per_epoch"], start=1)]
        for key, label in (("full", "full density"), ("incremental", "incremental (1%, x2)"))})
    style(axes[2], xlabel="epoch", ylabel="test accuracy (%)")
    fig.suptitle(f"{results['model']} on Fashion-MNIST"
                 f"{' (quick: numbers meaningless)' if results['quick'] else ''}")
    finish(fig, path, dpi=110)



def mask_figure(model_path: str, path: str) -> None:
    """The paper's Figure 1 for a trained sparse network: each layer's
    input-to-output channel connections."""
    import keras

    from tf_pe.viz import connection_masks

    connection_masks(keras.saving.load_model(model_path), path=path)


register_benchmark(Benchmark(
    name="channel",
    description="sparse random vs depth multiplier at equal parameters, and incremental "
                "densification (Changpinyo et al. 2017) on Fashion-MNIST",
    run=run_channel_benchmark,
))

"""`tf-pe benchmark lre`: LRE-AMC compression of trained LeNets (Shah et al., Table 2, Fig. 1).

Trains LeNet-300-100 and LeNet-5 on Fashion-MNIST (`tf_pe.training.train`),
then compresses each with `tf_pe.compression.lre_amc` at `epsilon` in the four
settings of the paper's Table 2: top-down and round-robin order, with ("wAdj")
and without ("noAdj") readjustment. Validation (for Algorithm 1's accuracy
test) is the first `val_take` test images; the reported accuracy is on the rest
of the test set. Figure 1: a layer is shrunk by 25% per step without any
fine-tuning, and the relative change of the next layer's pre-activations
`||Y_i - Y_0|| / ||Y_0||` is recorded with and without readjustment.

Writes `results.json`, `results.md` and `input_change.png`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time

import keras
import numpy as np

from tf_pe import data
from tf_pe.bench.registry import Benchmark, BenchOptions, register_benchmark
from tf_pe.compression import consumer_preactivation, counts, lre_amc, shrink
from tf_pe.compression.distill import evaluate
from tf_pe.training import TrainConfig, train

SETTINGS = (("top_down", False), ("top_down", True), ("round_robin", False),
            ("round_robin", True))


@dataclasses.dataclass(frozen=True)
class Settings:
    """What one benchmark invocation runs."""

    models: tuple[str, ...] = ("lenet_300_100", "lenet5")
    train_epochs: int = 3
    train_take: int | None = None
    compress_take: int = 10_000
    val_take: int = 2_000
    epsilon: float = 0.05
    gamma: float = 0.75
    max_epochs: int = 3
    learning_rate: float = 1e-3
    stats_batches: int = 30
    figure_layer: dict = dataclasses.field(
        default_factory=lambda: {"lenet_300_100": "fc1", "lenet5": "fc1"})
    figure_steps: int = 12


FULL = Settings()
QUICK = Settings(models=("lenet_300_100",), train_epochs=1, train_take=512, compress_take=256,
                 val_take=128, max_epochs=1, stats_batches=2, figure_steps=2, gamma=0.25)


def input_change_curve(model, layer, data_ds, sample, steps, gamma, adjust, stats_batches):
    """Relative change of the next layer's pre-activation after each shrinking step."""
    y0 = consumer_preactivation(model, layer, sample)
    current, curve = model, []
    for _ in range(steps):
        units = current.get_layer(layer).units if isinstance(
            current.get_layer(layer), keras.layers.Dense) else current.get_layer(layer).filters
        if units <= 1:
            break
        nxt, removal = shrink(current, layer, data_ds, max(1, math.floor((1 - gamma) * units)),
                              adjust, max_batches=stats_batches, max_update_ratio=np.inf)
        if nxt is None:
            break
        current = nxt
        y = consumer_preactivation(current, layer, sample)
        curve.append({"units": removal.units_after,
                      "change": float(np.linalg.norm(y - y0) / np.linalg.norm(y0))})
    return curve


def run(options: BenchOptions, settings: Settings | None = None) -> dict:
    """Trains, compresses in the four Table-2 settings, and writes the results."""
    s = settings or (QUICK if options.quick else FULL)
    os.makedirs(options.out, exist_ok=True)
    start = time.perf_counter()
    rows, curves = [], {}
    dd = options.data_dir
    train_ds = data.load("fashion_mnist", "train", 128, data_dir=dd, seed=options.seed,
                         take=s.compress_take)
    val_ds = data.load("fashion_mnist", f"test[:{s.val_take}]", 256, data_dir=dd,
                       shuffle=False)
    test_ds = data.load("fashion_mnist", f"test[{s.val_take}:]", 256, data_dir=dd,
                        shuffle=False)
    sample = next(iter(val_ds))[0]
    for name in s.models:
        out = os.path.join(options.out, name)
        record = train(TrainConfig(model=name, epochs=s.train_epochs, take=s.train_take,
                                   seed=options.seed, data_dir=dd, out=out),
                       verbose=0, print_fn=None)
        model = keras.saving.load_model(os.path.join(out, "model.keras"))
        base_test = evaluate(model, test_ds)
        base = counts(model)
        print(f"[lre bench] {name}: trained in {record['timings']['fit_s']:.0f} s, "
              f"test accuracy {base_test:.4f}, {base['params']:,} parameters", flush=True)
        for order, adjust in SETTINGS:
            t0 = time.perf_counter()
            small, report = lre_amc(model, train_ds, val_ds, order=order, adjust=adjust,
                                    epsilon=s.epsilon, gamma=s.gamma,
                                    max_epochs=s.max_epochs, learning_rate=s.learning_rate,
                                    stats_batches=s.stats_batches, print_fn=None)
            test_acc = evaluate(small, test_ds)
            row = {"model": name, "order": order, "adjust": adjust,
                   "removed": report["removed"], "params_before": base["params"],
                   "params_after": report["after"]["params"],
                   "test_accuracy_before": base_test, "test_accuracy_after": test_acc,
                   "test_accuracy_change": test_acc - base_test,
                   "val_accuracy_change": report["accuracy_change"],
                   "units": {k: v["units_after"] for k, v in report["layers"].items()},
                   "steps": len(report["steps"]), "step_log": report["steps"],
                   "seconds": time.perf_counter() - t0}
            rows.append(row)
            print(f"[lre bench] {name} {order} {'wAdj' if adjust else 'noAdj'}: "
                  f"{100 * row['removed']['params']:.1f}% params removed, test accuracy "
                  f"{100 * row['test_accuracy_change']:+.2f} points, {row['seconds']:.0f} s",
                  flush=True)
        layer = s.figure_layer[name]
        curves[name] = {"layer": layer, **{
            key: input_change_curve(model, layer, train_ds, sample, s.figure_steps, 0.75,
                                    adjust, s.stats_batches)
            for key, adjust in (("wAdj", True), ("noAdj", False))}}
    result = {"settings": dataclasses.asdict(s), "seed": options.seed, "rows": rows,
              "input_change": curves, "checks": checks(rows),
              "wall_s": time.perf_counter() - start}
    with open(os.path.join(options.out, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(options.out, "results.md"), "w") as f:
        f.write(table(rows) + "\n\n" + curve_table(curves) + "\n")
    plot(curves, os.path.join(options.out, "input_change.png"))
    print(table(rows))
    return result


def checks(rows: list[dict]) -> dict:
    """The issue's expectations per model: >= 90% removed for <= 3 points, and
    top-down wAdj removing more than top-down noAdj."""
    out = {}
    for model in sorted({r["model"] for r in rows}):
        at = {(r["order"], r["adjust"]): r for r in rows if r["model"] == model}
        good = [r for r in at.values() if r["removed"]["params"] >= 0.9
                and r["test_accuracy_change"] >= -0.03]
        entry = {"any_setting_90pct_within_3_points": bool(good)}
        if ("top_down", True) in at and ("top_down", False) in at:
            w, n = at[("top_down", True)], at[("top_down", False)]
            entry["top_down_wadj_minus_noadj_removed_points"] = round(
                100 * (w["removed"]["params"] - n["removed"]["params"]), 2)
            entry["top_down_wadj_minus_noadj_accuracy_points"] = round(
                100 * (w["test_accuracy_change"] - n["test_accuracy_change"]), 2)
        out[model] = entry
    return out


def table(rows: list[dict]) -> str:
    """Table 2's layout: % removed total / dense / conv, accuracy change, units left."""
    lines = ["| model | setting | -ΔA total | -ΔD dense | -ΔC conv | -ΔMACs | Δ test acc. "
             "| params left | units left | time |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        rem = r["removed"]
        order = "TD" if r["order"] == "top_down" else "RR"
        setting = f"{order}({'wAdj' if r['adjust'] else 'noAdj'})"
        units = ", ".join(f"{k} {v}" for k, v in r["units"].items() if v is not None)
        lines.append(
            f"| {r['model']} | {setting} | {100 * rem['params']:.1f}% | "
            f"{100 * rem['dense_params']:.1f}% | {100 * rem['conv_params']:.1f}% | "
            f"{100 * rem['macs']:.1f}% | {100 * r['test_accuracy_change']:+.2f} | "
            f"{r['params_after']:,} | {units} | {r['seconds']:.0f} s |")
    return "\n".join(lines)


def curve_table(curves: dict) -> str:
    """Figure 1 as a table: relative input change of the next layer per step."""
    lines = []
    for model, c in curves.items():
        lines.append(f"{model}, shrinking {c['layer']} by 25% per step (no fine-tuning):\n")
        lines.append("| step | units | change wAdj | change noAdj |")
        lines.append("|---:|---:|---:|---:|")
        for i, (w, n) in enumerate(zip(c["wAdj"], c["noAdj"], strict=False), start=1):
            lines.append(f"| {i} | {w['units']} | {w['change']:.3f} | {n['change']:.3f} |")
        lines.append("")
    return "\n".join(lines)


def plot(curves: dict, path: str) -> None:
    """Figure 1: input-change norm per shrinking step, with and without readjustment."""
    from tf_pe.viz.figure import finish, panels, series, style

    fig, axes = panels(1, max(1, len(curves)), None, (5, 4))
    for ax, (model, c) in zip(axes, curves.items(), strict=False):
        series(ax, {key: [(i, p["change"]) for i, p in enumerate(c[key], start=1)]
                    for key in ("wAdj", "noAdj")}, markers="o")
        style(ax, f"{model}: shrinking {c['layer']}", "shrinking step (-25%)",
              "||Y_i - Y_0|| / ||Y_0|| of next layer")
    finish(fig, path)


register_benchmark(Benchmark(
    name="lre",
    description="LRE-AMC on trained Fashion-MNIST LeNets: Table 2 (TD/RR x wAdj/noAdj), Fig. 1",
    run=run,
))

"""`tf-pe benchmark op`: the custom op against the masked dense convolution.

For layer shapes of WRN-28-2 and ResNet-50 (batch 32, 3x3 and 1x1) at densities
1, 0.5, 0.25, 0.1, 0.05, 0.01 and both patterns, times the forward and the
forward+backward (input and kernel gradients) of

* `op`: `tf_pe.ops.compact_conv2d`, i.e. a gather of the kernel's active entries
  (the indices precomputed from the mask, as `SparseChannelConv2D` does while its
  mask is the one it traced) + `TfPe>SparseChannelConv2D`,
* `grouped` (block pattern): `tf_pe.ops.grouped_conv2d`, the grouped convolution on
  gathered channels,
* `hybrid` (block pattern): `tf_pe.ops.hybrid_conv2d`, the op forward with the
  grouped convolution's gradients, and
* `dense`: `tf.nn.conv2d(x, kernel * mask)` (the fallback),

and, in bfloat16 (the `mixed_bfloat16` policy; the op has no bfloat16 kernels), the
grouped path against masked dense for block masks,

side by side in one process, interleaved, each a `tf.function`; reports the median
of the repeats, the ratio dense/op, and the ideal 1/density. Then one training step
of a channel-sparse WRN-16-2 (density 0.1, block pattern, `auto` dispatch) against
the same network dense, and the peak resident memory of a few training steps of
each, measured as VmHWM of a fresh subprocess (CPU: no allocator statistics).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time

import numpy as np

from tf_pe.bench.registry import Benchmark, BenchOptions, register_benchmark

DENSITIES = (1.0, 0.5, 0.25, 0.1, 0.05, 0.01)
PATTERNS = ("block", "random")
# (network, name, rows/cols, in, out, kernel, stride)
SHAPES = (
    ("WRN-28-2", "conv3x3 32x32 32->32", 32, 32, 32, 3, 1),
    ("WRN-28-2", "conv3x3 16x16 64->64", 16, 64, 64, 3, 1),
    ("WRN-28-2", "conv3x3 8x8 128->128", 8, 128, 128, 3, 1),
    ("WRN-28-2", "conv1x1 16x16 32->64", 16, 32, 64, 1, 1),
    ("ResNet-50", "conv3x3 56x56 64->64", 56, 64, 64, 3, 1),
    ("ResNet-50", "conv3x3 14x14 256->256", 14, 256, 256, 3, 1),
    ("ResNet-50", "conv3x3 7x7 512->512", 7, 512, 512, 3, 1),
    ("ResNet-50", "conv1x1 56x56 256->64", 56, 256, 64, 1, 1),
    ("ResNet-50", "conv1x1 14x14 1024->256", 14, 1024, 256, 1, 1),
    ("ResNet-50", "conv3x3 s2 56x56 128->128", 56, 128, 128, 3, 2),
)
BATCH = 32


def _time_once(fn):
    start = time.perf_counter()
    fn()  # eager results of a tf.function on CPU are computed when it returns
    return time.perf_counter() - start


def _layer_point(tf, shape, density, pattern, repeats, seed, dtype="float32"):
    """Times the implementations on one layer shape: masked dense and the op, and
    for block masks the grouped path and the hybrid; in bfloat16 (no op kernels)
    only grouped against masked dense."""
    from tf_pe.ops import (
        compact_conv2d,
        compact_structure,
        grouped_conv2d,
        grouped_structure,
        hybrid_conv2d,
    )
    from tf_pe.sparsity import patterns

    _, _, size, cin, cout, k, stride = shape
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(BATCH, size, size, cin)), dtype)
    kernel = tf.Variable(rng.normal(size=(k, k, cin, cout)), dtype=dtype)
    mask_value = patterns.connection_mask(cin, cout, density, pattern, seed=seed)
    mask = tf.constant(mask_value, dtype)
    structure = grouped_structure(mask_value) if pattern == "block" else None
    compact = compact_structure(mask_value)

    def op_fwd():
        return compact_conv2d(x, kernel, compact, (stride, stride), "SAME")

    def grouped_fwd():
        return grouped_conv2d(x, kernel, structure, (stride, stride), "SAME")

    def hybrid_fwd():
        return hybrid_conv2d(x, kernel, structure, compact, (stride, stride), "SAME")

    def dense_fwd():
        return tf.nn.conv2d(x, kernel * mask[None, None], stride, "SAME")

    def with_grad(forward):
        def step():
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = forward()
            return tape.gradient(y, [x, kernel], output_gradients=tf.ones_like(y))
        return step

    forwards = {"dense": dense_fwd}
    if dtype == "float32":
        forwards["op"] = op_fwd
    if structure is not None:
        forwards["grouped"] = grouped_fwd
        if dtype == "float32":
            forwards["hybrid"] = hybrid_fwd
    fns = {f"{name}_{kind}": tf.function(fn if kind == "fwd" else with_grad(fn))
           for name, fn in forwards.items() for kind in ("fwd", "fb")}
    times = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # trace
    for _ in range(repeats):  # interleaved: op and dense see the same machine state
        for name, fn in fns.items():
            times[name].append(_time_once(fn))
    med = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    point = {"net": shape[0], "layer": shape[1], "in_channels": cin, "density": density,
             "pattern": pattern, "dtype": dtype, "nnz_fraction": float(mask_value.mean()),
             **{f"{k}_ms": v for k, v in med.items()}, "ideal": 1.0 / float(mask_value.mean())}
    if "op" in forwards:
        point.update(fwd_speedup=med["dense_fwd"] / med["op_fwd"],
                     fb_speedup=med["dense_fb"] / med["op_fb"])
    for name in ("grouped", "hybrid"):
        if name in forwards:
            point.update({f"{name}_fwd_speedup": med["dense_fwd"] / med[f"{name}_fwd"],
                          f"{name}_fb_speedup": med["dense_fb"] / med[f"{name}_fb"]})
    if structure is not None:
        point["grouped_computed_fraction"] = structure.computed_fraction
    return point


_STEP_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import keras, numpy as np
    import tf_pe
    density, steps = float(sys.argv[1]), int(sys.argv[2])
    keras.utils.set_random_seed(0)
    model = tf_pe.models.wrn((32, 32, 3), 10, depth=16, width=2)
    if density < 1:
        model = tf_pe.sparsify(model, method="channel", density=density, pattern="block")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(32, 32, 32, 3)).astype("float32")
    y = np.zeros((32,), "int64")
    def status(key):  # kB; VmHWM starts fresh at exec (ru_maxrss would not)
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1])
    before = status("VmRSS:")
    model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter(); model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    print(json.dumps({"times": times, "rss_before_kib": before, "hwm_kib": status("VmHWM:")}))
""")


def _training_step(quick):
    """WRN-16-2 training steps, dense and channel-sparse (0.1, block), each in a fresh
    subprocess; median step time, peak RSS (VmHWM) and its rise over the RSS just
    before training (the first step traces the graph, so tracing is included)."""
    steps = 2 if quick else 12
    out = {}
    for label, density in (("dense", 1.0), ("sparse_0.1_block", 0.1)):
        result = subprocess.run([sys.executable, "-c", _STEP_SCRIPT, str(density), str(steps)],
                                capture_output=True, text=True, check=True,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        data = json.loads(result.stdout.strip().splitlines()[-1])
        out[label] = {"step_ms": statistics.median(data["times"]) * 1e3,
                      "peak_rss_mib": data["hwm_kib"] / 1024,
                      "peak_over_pretraining_rss_mib":
                          (data["hwm_kib"] - data["rss_before_kib"]) / 1024}
    out["step_speedup"] = out["dense"]["step_ms"] / out["sparse_0.1_block"]["step_ms"]
    return out


def _markdown(points, step):
    lines = ["| net | layer | pattern | density | fwd dense ms | fwd x: op / grouped / hybrid | "
             "fwd+bwd dense ms | fwd+bwd x: op / grouped / hybrid | auto: fwd x / fwd+bwd x | "
             "ideal x |", "|---|---|---|---|---|---|---|---|---|---|"]

    def speedups(p, kind):
        return " / ".join(f"{p[_speedup_keys(name)[kind]]:.2f}"
                          if _speedup_keys(name)[kind] in p else "-"
                          for name in ("op", "grouped", "hybrid"))

    for p in points:
        lines.append(f"| {p['net']} | {p['layer']} | {p['pattern']} | {p['density']} | "
                     f"{p['dense_fwd_ms']:.2f} | {speedups(p, 0)} | {p['dense_fb_ms']:.2f} | "
                     f"{speedups(p, 1)} | {p['auto']} {p['auto_fwd_speedup']:.2f} / "
                     f"{p['auto_fb_speedup']:.2f} | {p['ideal']:.1f} |")
    if step:
        d, s = step["dense"], step["sparse_0.1_block"]
        lines += ["", "| WRN-16-2 training step (batch 32) | step ms | peak RSS MiB | "
                  "peak RSS - RSS before training MiB |", "|---|---|---|---|",
                  f"| dense | {d['step_ms']:.1f} | {d['peak_rss_mib']:.0f} | "
                  f"{d['peak_over_pretraining_rss_mib']:.0f} |",
                  f"| channel-sparse 0.1 block | {s['step_ms']:.1f} | {s['peak_rss_mib']:.0f} | "
                  f"{s['peak_over_pretraining_rss_mib']:.0f} |",
                  "", f"Training step speedup: {step['step_speedup']:.2f}x"]
    return "\n".join(lines) + "\n"


KERNEL_CLASSES = ("1x1", "kxk", "strided")


def kernel_class(layer: str) -> str:
    """`"strided"` for strided layers, `"1x1"` for pointwise ones, else `"kxk"` (from
    the layer's name, e.g. "conv3x3 s2 ...")."""
    if " s2 " in f" {layer} ":
        return "strided"
    return "1x1" if "1x1" in layer else "kxk"


# A point counts as a win for an implementation only above this speedup, forward and
# forward+backward: ratios of the same code moved by 5-40% between runs.
WIN_MARGIN = 1.05


def _speedup_keys(implementation: str) -> tuple[str, str]:
    """The point keys of `implementation`'s forward and forward+backward speedups."""
    prefix = "" if implementation == "op" else f"{implementation}_"
    return f"{prefix}fwd_speedup", f"{prefix}fb_speedup"


def dispatch_rule(points, margin: float = WIN_MARGIN, implementation: str = "op") -> dict:
    """One implementation's part of the rule `tf_pe.ops.dispatch` applies, from the
    measured points.

    For each (pattern, kernel class) `implementation` (`"op"`, or `"grouped"` or
    `"hybrid"`, for the points that timed it) runs a layer when its density (the
    active fraction of its mask, which rounding puts near the nominal one: 26 / 256
    inputs per output at 0.1) is at most `max_density` and it has at least
    `min_in_channels` input channels. Of the pairs for which every benchmarked
    point selected (at least that many input channels, active fraction in
    (0, max_density]) had forward and forward+backward speedups over
    masked dense above `margin` (inference and training both faster), the rule
    takes the one that selects the most points (then the narrowest layers, then the
    largest density); `max_density` 0.0 (never) when no pair qualifies.

    Returns:
        `{"block/kxk": {"max_density": d, "min_in_channels": c}, ...}` for every
        class (never for a class without points).
    """
    speedups = _speedup_keys(implementation)
    rule = {}
    for pattern in PATTERNS:
        for kind in KERNEL_CLASSES:
            row = [p for p in points if p["pattern"] == pattern and p["nnz_fraction"] > 0
                   and kernel_class(p["layer"]) == kind and speedups[1] in p]
            best = (0, 0, 0.0)  # (points selected, -min_in_channels, max_density)
            for width in sorted({p["in_channels"] for p in row}):
                for density in sorted({p["nnz_fraction"] for p in row}):
                    chosen = [p for p in row
                              if p["in_channels"] >= width and p["nnz_fraction"] <= density]
                    if all(p[key] > margin for p in chosen for key in speedups):
                        best = max(best, (len(chosen), -width, density))
            rule[f"{pattern}/{kind}"] = {"max_density": best[2], "min_in_channels": -best[1]}
    return rule


def _selects(entry, point) -> bool:
    return (point["in_channels"] >= entry["min_in_channels"]
            and 0 < point["nnz_fraction"] <= entry["max_density"])


def preference(points, rules) -> dict:
    """Per class, the order in which `auto` tries the implementations (the first
    whose rule selects a layer runs it), by density: at each benchmarked (nominal)
    density, the implementations ordered by pairwise wins over that density's
    points, up to the largest active fraction among them, where
    `a` beats `b` when its geometric-mean speedup, forward and forward+backward
    together, is larger over the points both rules select (none: no win); ties keep
    the order of `tf_pe.ops.dispatch.IMPLEMENTATIONS`. Neighbouring densities with the
    same order are merged.

    Args:
        points: the measured points.
        rules: `{implementation: dispatch_rule(...)}` for every implementation.

    Returns:
        `{"block/kxk": [[max_density, order], ...], ...}`, ascending in
        `max_density` (the form of `tf_pe.ops.dispatch.PREFER`).
    """
    from tf_pe.ops.dispatch import IMPLEMENTATIONS

    prefer = {}
    for key in rules["op"]:
        pattern, kind = key.split("/")
        row = [p for p in points if p["pattern"] == pattern and kernel_class(p["layer"]) == kind]
        entries = []
        for density in sorted({p["density"] for p in row}):
            at = [p for p in row if p["density"] == density]
            wins = {a: sum(_beats(a, b, at, rules, key) for b in IMPLEMENTATIONS if b != a)
                    for a in IMPLEMENTATIONS}
            order = sorted(IMPLEMENTATIONS, key=lambda name: -wins[name])
            reach = max([p["nnz_fraction"] for p in at] + [e[0] for e in entries])
            if entries and entries[-1][1] == order:
                entries[-1][0] = reach
            else:
                entries.append([reach, order])
        prefer[key] = entries
    return prefer


def _beats(a, b, row, rules, key) -> bool:
    """Whether `a` has the larger geometric-mean speedup (forward and
    forward+backward) than `b` over the points of `row` both rules select."""
    both = [p for p in row if all(_speedup_keys(n)[1] in p and _selects(rules[n][key], p)
                                  for n in (a, b))]

    def score(name):
        return sum(np.log(p[k]) for p in both for k in _speedup_keys(name))

    return bool(both) and score(a) > score(b)


def auto_choice(point, rules) -> str:
    """What `auto` dispatch runs a benchmarked layer on under `rules` (the
    "dispatch_rule" of results.json): the first implementation of the order
    "prefer" gives its class and density (`tf_pe.ops.dispatch.order`) whose rule
    selects the point (and that the point timed), else `"dense"`."""
    from tf_pe.ops import dispatch

    key = f"{point['pattern']}/{kernel_class(point['layer'])}"
    for name in dispatch.order(rules["prefer"][key], point["nnz_fraction"]):
        if _speedup_keys(name)[1] in point and _selects(rules[name][key], point):
            return name
    return "dense"


def _with_auto(point, rules) -> dict:
    """`point` with what `auto` runs it on and the speedups that gives."""
    choice = auto_choice(point, rules)
    speedups = (1.0, 1.0) if choice == "dense" else tuple(
        point[key] for key in _speedup_keys(choice))
    return {**point, "auto": choice, "auto_fwd_speedup": speedups[0],
            "auto_fb_speedup": speedups[1]}


def run(options: BenchOptions) -> dict:
    """Runs the benchmark; writes results.json and results.md to `options.out`."""
    import tensorflow as tf

    from tf_pe.ops import grouped, loader

    if loader.load() is None:
        raise RuntimeError("the op library is not built: run `make setup`")
    os.makedirs(options.out, exist_ok=True)
    shapes = SHAPES[:1] if options.quick else SHAPES
    densities = (1.0, 0.1) if options.quick else DENSITIES
    repeats = 1 if options.quick else 5
    points = []
    for shape in shapes:
        for pattern in PATTERNS:
            for density in densities:
                point = _layer_point(tf, shape, density, pattern, repeats, options.seed)
                points.append(point)
                also = "".join(f", {name} fwd x{point[f'{name}_fwd_speedup']:.2f} fwd+bwd "
                               f"x{point[f'{name}_fb_speedup']:.2f}"
                               for name in ("grouped", "hybrid") if f"{name}_fb_ms" in point)
                print(f"{shape[0]} {shape[1]} {pattern} {density}: op fwd "
                      f"x{point['fwd_speedup']:.2f} fwd+bwd x{point['fb_speedup']:.2f}{also}"
                      f" (ideal {point['ideal']:.1f})", flush=True)
    # bfloat16 (the mixed_bfloat16 policy): grouped against masked dense, block masks.
    bf16_points = []
    if grouped.supported("bfloat16"):
        for shape in shapes:
            for density in densities:
                point = _layer_point(tf, shape, density, "block", repeats, options.seed,
                                     "bfloat16")
                bf16_points.append(point)
                print(f"{shape[0]} {shape[1]} block {density} bfloat16: grouped fwd "
                      f"x{point['grouped_fwd_speedup']:.2f} fwd+bwd "
                      f"x{point['grouped_fb_speedup']:.2f}", flush=True)
    step = _training_step(options.quick)
    results = {"machine": f"{platform.processor() or platform.machine()}, "
                          f"{os.cpu_count()} CPUs", "batch": BATCH, "repeats": repeats,
               "points": points, "bfloat16_points": bf16_points, "training_step": step}
    rules = derive_rules(points, bf16_points)
    points = [_with_auto(p, rules) for p in points]
    results.update(points=points, dispatch_rule=rules)
    with open(os.path.join(options.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(options.out, "results.md"), "w") as f:
        f.write(_markdown(points, step) + _bf16_markdown(bf16_points) +
                "\nThe rule, as `tf_pe/ops/dispatch.py` source:\n\n```python\n" +
                dispatch_source(rules) + "```\n")
    return results


def derive_rules(points, bf16_points) -> dict:
    """The whole rule ("dispatch_rule" of results.json): `dispatch_rule` of every
    implementation, the `preference` and the bfloat16 grouped rule. Given the
    points of several runs together, a limit holds only where every selected point
    of every run won, and the preference compares geometric means over the runs."""
    from tf_pe.ops import dispatch

    rules = {name: dispatch_rule(points, implementation=name)
             for name in dispatch.IMPLEMENTATIONS}
    rules["prefer"] = preference(points, rules)
    rules["grouped_bfloat16"] = dispatch_rule(bf16_points, implementation="grouped")
    return rules


def dispatch_source(rules) -> str:
    """`RULE = {...}` and `PREFER = {...}` of `rules` as the Python source they have
    in `tf_pe/ops/dispatch.py`."""
    lines = ["RULE = {"]
    for name in ("op", "grouped", "hybrid", "grouped_bfloat16"):
        lines.append(f'    "{name}": {{')
        lines += [f'        "{key}": {{"max_density": {entry["max_density"]!r}, '
                  f'"min_in_channels": {entry["min_in_channels"]}}},'
                  for key, entry in rules[name].items()]
        lines.append("    },")
    lines += ["}", "PREFER = {"]
    for key, entries in rules["prefer"].items():
        items = [f"({limit!r}, (" + ", ".join(f'"{name}"' for name in order) + "))"
                 for limit, order in entries]
        lines.append(f'    "{key}": (' + f",\n{' ' * (len(key) + 9)}".join(items) +
                     ("," if len(items) == 1 else "") + "),")
    return "\n".join([*lines, "}"]) + "\n"


def _bf16_markdown(points) -> str:
    lines = ["", "bfloat16, block pattern, grouped vs masked dense:", "",
             "| net | layer | density | fwd dense ms | fwd grouped x | fwd+bwd dense ms | "
             "fwd+bwd grouped x |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {p['net']} | {p['layer']} | {p['density']} | {p['dense_fwd_ms']:.2f} | "
              f"{p['grouped_fwd_speedup']:.2f} | {p['dense_fb_ms']:.2f} | "
              f"{p['grouped_fb_speedup']:.2f} |" for p in points]
    return "\n".join(lines) + "\n"


register_benchmark(Benchmark("op", "custom op vs masked dense convolution (issue 4)", run))

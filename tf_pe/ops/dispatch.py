"""Which implementation `SparseChannelConv2D` uses.

Implementations: `"op"` (the C++ op `TfPe>SparseChannelConv2D`, any mask),
`"grouped"` (`tf_pe.ops.grouped`: a grouped `tf.nn.conv2d` on gathered channels,
for masks whose output groups share input sets, i.e. the `"block"` pattern),
`"hybrid"` (`tf_pe.ops.hybrid_conv2d`: the op forward, the grouped convolution's
gradients; block masks, float32) and the masked dense `tf.nn.conv2d(x, W * M)`.

Modes: `"auto"` (default): on a machine without a GPU and with the op library
loaded, a layer runs the first implementation in `PREFER[its class]` whose
`RULE` allows the density of the mask it was traced with (and, for grouped and
hybrid, whose mask has the grouped structure), while the mask equals that one;
after a change (densification), the op where `RULE["op"]` allows the live
density, else masked dense. In bfloat16 (no op kernels) the choice is grouped
where `RULE["grouped_bfloat16"]` allows it, else masked dense. `"op"`, `"grouped"`,
`"hybrid"`: always that implementation while the traced mask holds and has the
structure it needs (after a change: the op, or masked dense for the other two).
`"dense"`: always masked dense. Set with `set_mode()` or the environment variable
`TF_PE_SPARSE_DISPATCH`. The tests on the mask run in the graph (`tf.cond`), so
densification switches paths.
"""

from __future__ import annotations

import os

MODES = ("auto", "op", "grouped", "hybrid", "dense")

# When each implementation is faster than the masked dense convolution for a
# training step (forward + backward), per pattern and kernel class ("1x1"
# pointwise, "kxk" larger, "strided" any kernel with a stride > 1): a layer of at
# least `min_in_channels` input channels at a density (active fraction of the
# mask) up to `max_density` (0.0: never); the limits are measured active fractions
# (26 / 256 = 0.1015625 for the 256-channel layer at nominal density 0.1).
# Measured by three runs of `tf-pe benchmark op` on the 2-core CPU described in
# docs/benchmarks.md, "Custom op (issue 4)", and printed by
# `python -m tf_pe.bench.op_rule` from their results.json files together
# (`tf_pe.bench.op.dispatch_rule`: every benchmarked WRN-28-2 / ResNet-50 shape the
# rule selects was more than 1.05x faster than masked dense, forward and
# forward+backward, in every run).
# The grouped and hybrid implementations only apply to masks with the grouped
# structure, which the "random" pattern does not have (so they have no points:
# never).
# "grouped_bfloat16" is the grouped path in bfloat16 (the mixed_bfloat16 policy,
# against masked dense in bfloat16); the op has no bfloat16 kernels.
RULE = {
    "op": {
        "block/1x1": {"max_density": 0.25, "min_in_channels": 1024},
        "block/kxk": {"max_density": 0.25, "min_in_channels": 64},
        "block/strided": {"max_density": 0.0, "min_in_channels": 0},
        "random/1x1": {"max_density": 0.009998321533203125, "min_in_channels": 32},
        "random/kxk": {"max_density": 0.0498046875, "min_in_channels": 32},
        "random/strided": {"max_density": 0.0, "min_in_channels": 0},
    },
    "grouped": {
        "block/1x1": {"max_density": 0.09375, "min_in_channels": 1024},
        "block/kxk": {"max_density": 0.5, "min_in_channels": 64},
        "block/strided": {"max_density": 0.5, "min_in_channels": 128},
        "random/1x1": {"max_density": 0.0, "min_in_channels": 0},
        "random/kxk": {"max_density": 0.0, "min_in_channels": 0},
        "random/strided": {"max_density": 0.0, "min_in_channels": 0},
    },
    "hybrid": {
        "block/1x1": {"max_density": 0.09375, "min_in_channels": 1024},
        "block/kxk": {"max_density": 0.25, "min_in_channels": 64},
        "block/strided": {"max_density": 0.0, "min_in_channels": 0},
        "random/1x1": {"max_density": 0.0, "min_in_channels": 0},
        "random/kxk": {"max_density": 0.0, "min_in_channels": 0},
        "random/strided": {"max_density": 0.0, "min_in_channels": 0},
    },
    "grouped_bfloat16": {
        "block/1x1": {"max_density": 0.0, "min_in_channels": 0},
        "block/kxk": {"max_density": 0.5, "min_in_channels": 256},
        "block/strided": {"max_density": 0.0, "min_in_channels": 0},
        "random/1x1": {"max_density": 0.0, "min_in_channels": 0},
        "random/kxk": {"max_density": 0.0, "min_in_channels": 0},
        "random/strided": {"max_density": 0.0, "min_in_channels": 0},
    },
}

# Per class, the order in which `auto` tries the implementations, by density:
# `[(max_density, order), ...]` ascending; a layer takes the first entry whose
# `max_density` is at least its density (above the last: the last). From the same
# runs (`tf_pe.bench.op.preference`: at each benchmarked density, by pairwise
# comparisons of the geometric-mean speedups over the points both rules select).
IMPLEMENTATIONS = ("hybrid", "grouped", "op")
PREFER = {
    "block/1x1": ((0.0625, ("op", "hybrid", "grouped")),
                  (1.0, ("hybrid", "grouped", "op"))),
    "block/kxk": ((0.03125, ("hybrid", "grouped", "op")),
                  (0.0625, ("hybrid", "op", "grouped")),
                  (0.1015625, ("hybrid", "grouped", "op")),
                  (0.25, ("grouped", "hybrid", "op")),
                  (1.0, ("hybrid", "grouped", "op"))),
    "block/strided": ((1.0, ("hybrid", "grouped", "op")),),
    "random/1x1": ((1.0, ("hybrid", "grouped", "op")),),
    "random/kxk": ((1.0, ("hybrid", "grouped", "op")),),
    "random/strided": ((1.0, ("hybrid", "grouped", "op")),),
}


def order(entries, density: float) -> tuple[str, ...]:
    """The implementations in the order `entries` (a value of `PREFER`) gives a
    layer of `density`; `IMPLEMENTATIONS` for no entries."""
    for max_density, names in entries:
        if density <= max_density:
            return tuple(names)
    return tuple(entries[-1][1]) if entries else IMPLEMENTATIONS


def layer_class(pattern: str, kernel_size, strides=(1, 1)) -> str:
    """The key of a layer in `RULE[implementation]`, e.g. `"block/kxk"`."""
    if tuple(strides) != (1, 1):
        kind = "strided"
    else:
        kind = "1x1" if tuple(kernel_size) == (1, 1) else "kxk"
    return f"{pattern}/{kind}"


def max_density(implementation: str, pattern: str, kernel_size, strides,
                in_channels: int) -> float:
    """The density up to which `auto` runs a layer on `implementation` (a key of
    `RULE`: `"op"`, `"grouped"` or `"grouped_bfloat16"`): 0.0 (never) for a layer
    with fewer input channels than its class's `min_in_channels`, and on a machine
    with a GPU (the rule was measured on the CPU; the CUDA kernel is unmeasured).

    Raises:
        ValueError: for an implementation not in `RULE`.
    """
    if implementation not in RULE:
        raise ValueError(f"`implementation` must be one of {tuple(RULE)}, got "
                         f"{implementation!r}.")
    rule = RULE[implementation][layer_class(pattern, kernel_size, strides)]
    if in_channels < rule["min_in_channels"] or _gpu_visible():
        return 0.0
    return rule["max_density"]


def traced_value(mask):
    """The value of the mask variable now, as NumPy, read outside any graph being
    traced (what a trace's structure is built from)."""
    import keras
    import tensorflow as tf

    with tf.init_scope():
        return keras.ops.convert_to_numpy(mask)


def while_equal(mask, traced, run, otherwise):
    """`run()` while the mask variable equals `traced`, else `otherwise()`: a
    `tf.cond` in the graph, so a later change of the mask switches paths."""
    import tensorflow as tf

    unchanged = tf.reduce_all(tf.equal(mask, tf.constant(traced, mask.dtype)))
    return tf.cond(unchanged, run, otherwise)


def while_at_most(mask, count, run, otherwise):
    """`run()` while the mask has at most `count` active connections, else
    `otherwise()` (a `tf.cond` on the live mask)."""
    import tensorflow as tf

    return tf.cond(tf.math.count_nonzero(mask) <= count, run, otherwise)


def _gpu_visible() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


_mode = {"value": None}


def set_mode(mode: str | None) -> None:
    """Sets the dispatch mode (`None` goes back to the environment / `"auto"`).

    Raises:
        ValueError: for a mode not in `MODES`.
    """
    if mode is not None and mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES} or None, got {mode!r}.")
    _mode["value"] = mode


def mode() -> str:
    """The current mode."""
    value = _mode["value"] or os.environ.get("TF_PE_SPARSE_DISPATCH", "auto")
    if value not in MODES:
        raise ValueError(f"TF_PE_SPARSE_DISPATCH must be one of {MODES}, got {value!r}.")
    return value

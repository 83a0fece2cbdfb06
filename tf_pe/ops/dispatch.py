"""Which implementation `SparseChannelConv2D` uses: the op or the masked dense conv.

Modes: `"auto"` (default: the op when the library is loaded and the layer's current
density is at most `max_density(pattern, kernel_size, strides, in_channels)`, else
the masked `tf.nn.conv2d`), `"op"` (always the op when it is loaded; tests use it), `"dense"`
(never the op). Set with
`set_mode()` or the environment variable `TF_PE_SPARSE_DISPATCH`. The density test
runs in the graph (`tf.cond` on the mask), so densification switches paths.
"""

from __future__ import annotations

import os

MODES = ("auto", "op", "dense")

# When the op is faster than the masked dense convolution for a training step
# (forward + backward), per pattern and kernel class ("1x1" pointwise, "kxk" larger,
# "strided" any kernel with a stride > 1): the op runs a layer of at least
# `min_in_channels` input channels at a density up to `max_density` (0.0: never).
# Measured by `tf-pe benchmark op` on the 2-core CPU described in docs/benchmarks.md,
# "Custom op (issue 4)", and copied from its results.json "dispatch_rule"
# (`tf_pe.bench.op.dispatch_rule`: every benchmarked WRN-28-2 / ResNet-50 shape the
# rule selects was more than 1.05x faster on the op).
RULE = {
    "block/kxk": {"max_density": 0.25, "min_in_channels": 128},
    "random/kxk": {"max_density": 0.01, "min_in_channels": 32},
    "block/1x1": {"max_density": 0.25, "min_in_channels": 1024},
    "random/1x1": {"max_density": 0.01, "min_in_channels": 1024},
    "block/strided": {"max_density": 0.0, "min_in_channels": 0},
    "random/strided": {"max_density": 0.0, "min_in_channels": 0},
}


def layer_class(pattern: str, kernel_size, strides=(1, 1)) -> str:
    """The key of a layer in `RULE`, e.g. `"block/kxk"`."""
    if tuple(strides) != (1, 1):
        kind = "strided"
    else:
        kind = "1x1" if tuple(kernel_size) == (1, 1) else "kxk"
    return f"{pattern}/{kind}"


def max_density(pattern: str, kernel_size, strides, in_channels: int) -> float:
    """The density up to which `auto` runs a layer on the op (`RULE`): 0.0 (never)
    for a layer with fewer input channels than its class's `min_in_channels`, and on
    a machine with a GPU (the rule was measured on the CPU kernel; the CUDA kernel
    is unmeasured)."""
    rule = RULE[layer_class(pattern, kernel_size, strides)]
    if in_channels < rule["min_in_channels"] or _gpu_visible():
        return 0.0
    return rule["max_density"]


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

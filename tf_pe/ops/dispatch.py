"""Which implementation `SparseChannelConv2D` uses: the op or the masked dense conv.

Modes: `"auto"` (default: the op when the library is loaded and the layer's current
density is at most `max_density(pattern, kernel_size, strides)`, else the masked
`tf.nn.conv2d`), `"op"` (always the op when it is loaded; tests use it), `"dense"`
(never the op). Set with
`set_mode()` or the environment variable `TF_PE_SPARSE_DISPATCH`. The density test
runs in the graph (`tf.cond` on the mask), so densification switches paths.
"""

from __future__ import annotations

import os

MODES = ("auto", "op", "dense")

# Densities up to which the op is faster than the masked dense convolution for a
# training step (forward + backward), per pattern and kernel class ("1x1" pointwise,
# "kxk" larger, "strided" any kernel with a stride > 1). Measured by `tf-pe benchmark
# op` (docs/benchmarks.md, "Custom op (issue 4)"; results.json "crossover"): the
# largest benchmarked density at which the op's forward+backward beat the masked
# dense one on most WRN-28-2 / ResNet-50 shapes of that class, on the shared 2-core
# Xeon described there. 0.0: never. Exception: "block/strided" measured 0.5 on the
# benchmark's one strided shape (ResNet-50 56x56 128->128), but the WRN-16-2 training
# step at density 0.1 was 0.76x of dense with its strided layers on the op and 1.11x
# with them dense, so strided layers stay dense.
MAX_DENSITY = {"block/kxk": 0.25, "random/kxk": 0.05, "block/1x1": 0.0, "random/1x1": 0.0,
               "block/strided": 0.0, "random/strided": 0.0}


def max_density(pattern: str, kernel_size, strides=(1, 1)) -> float:
    """The measured crossover density for a layer (see `MAX_DENSITY`)."""
    if tuple(strides) != (1, 1):
        kind = "strided"
    else:
        kind = "1x1" if tuple(kernel_size) == (1, 1) else "kxk"
    return MAX_DENSITY[f"{pattern}/{kind}"]


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

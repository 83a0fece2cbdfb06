"""Which implementation `SparseChannelConv2D` uses: the op or the masked dense conv.

Modes: `"auto"` (default: the op when the library is loaded and the layer's current
density is at most `MAX_DENSITY[pattern]`, else the masked `tf.nn.conv2d`), `"op"`
(always the op when it is loaded; tests use it), `"dense"` (never the op). Set with
`set_mode()` or the environment variable `TF_PE_SPARSE_DISPATCH`. The density test
runs in the graph (`tf.cond` on the mask), so densification switches paths.
"""

from __future__ import annotations

import os

MODES = ("auto", "op", "dense")

# Densities up to which the op is faster than the masked dense convolution for a
# training step (forward + backward), per pattern. Measured by `tf-pe benchmark op`
# (docs/benchmarks.md, "Custom op (issue 4)"): the largest benchmark density at
# which the op's forward+backward time beat the masked dense one on most WRN-28-2
# and ResNet-50 shapes, on the 2-core Xeon described there.
MAX_DENSITY = {"block": 0.25, "random": 0.1}

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

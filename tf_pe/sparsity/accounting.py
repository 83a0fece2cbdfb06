"""Parameter and multiply-accumulate (MAC) accounting, dense and effective.

Every table tf_pe publishes uses these numbers. For each leaf layer:

* `params`: stored parameters, counted as Keras counts them, without masks and
  other bookkeeping variables;
* `active`: parameters whose mask is nonzero (all of them for unmasked layers);
* `dynamic` / `static`: active parameters that are learned (trainable) / fixed
  (non-trainable: batch-norm statistics, the fixed dictionaries of weight
  prediction), the split of Denil et al. 2013;
* `macs` / `effective_macs`: multiply-accumulates per example of the layer's
  kernels, `positions * kernel.size` and `positions * active(kernel)`, where
  `positions` is the number of output positions (input positions for transposed
  convolutions). As in the papers, only Dense and convolution kernels count;
  normalization, pooling and activations are free.

A layer can override the MAC count with a method
`count_macs(input_shape, output_shape) -> (dense, effective)`.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np

from tf_pe.sparsity.protocol import leaf_layers, mask_of, non_parameter_ids, own_weights

_SEPARABLE = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)
_TRANSPOSED = (
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)
_KERNEL = (
    keras.layers.Dense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
    *_TRANSPOSED,
)


@dataclasses.dataclass(frozen=True)
class LayerStats:
    """Counts for one layer (or a total).

    Attributes:
        name: layer name (`"total"` for the sum).
        kind: layer class name.
        params: stored parameters.
        active: parameters with a nonzero mask.
        dynamic: active trainable parameters.
        static: active non-trainable parameters.
        macs: dense multiply-accumulates per example, or None when unknown.
        effective_macs: multiply-accumulates per example over active weights,
            or None when unknown.
    """

    name: str
    kind: str
    params: int
    active: int
    dynamic: int
    static: int
    macs: int | None
    effective_macs: int | None

    @property
    def density(self) -> float:
        """Active over stored parameters (1.0 for a layer without parameters)."""
        return self.active / self.params if self.params else 1.0

    def to_dict(self) -> dict:
        """Returns the counts as a JSON-serializable dict."""
        return {**dataclasses.asdict(self), "density": self.density}


def _active_count(weight: keras.Variable, mask: keras.Variable | None) -> int:
    if mask is None:
        return int(np.prod(weight.shape))
    nonzero = np.asarray(keras.ops.convert_to_numpy(mask)) != 0
    return int(np.count_nonzero(np.broadcast_to(nonzero, tuple(weight.shape))))


def _kernels(layer: keras.layers.Layer) -> list[keras.Variable]:
    if isinstance(layer, _SEPARABLE):
        return [layer.depthwise_kernel, layer.pointwise_kernel]
    if isinstance(layer, _KERNEL):
        return [layer.kernel]
    return []


def _call_shapes(layer: keras.layers.Layer) -> list[tuple[tuple, tuple]]:
    """(input shape, output shape) of every call of `layer` in a model graph."""
    shapes = []
    # Keras 3 keeps the graph in `_inbound_nodes`; one node per call of the layer.
    for node in getattr(layer, "_inbound_nodes", []):
        inputs = node.arguments.keras_tensors
        if inputs and node.outputs:
            shapes.append((tuple(inputs[0].shape), tuple(node.outputs[0].shape)))
    return shapes


def _positions(layer: keras.layers.Layer, input_shape: tuple, output_shape: tuple) -> int:
    shape = input_shape if isinstance(layer, _TRANSPOSED) else output_shape
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        spatial = shape[2:]
    else:
        spatial = shape[1:-1]
    return math.prod(int(d) for d in spatial)


def _macs(layer: keras.layers.Layer) -> tuple[int | None, int | None]:
    counter = getattr(layer, "count_macs", None)
    kernels = _kernels(layer)
    if not callable(counter) and not kernels:
        return 0, 0
    calls = _call_shapes(layer)
    if not calls:
        return None, None
    masks = mask_of(layer)
    dense = effective = 0
    for input_shape, output_shape in calls:
        if callable(counter):
            d, e = counter(input_shape, output_shape)
        else:
            positions = _positions(layer, input_shape, output_shape)
            d = positions * sum(int(np.prod(k.shape)) for k in kernels)
            e = positions * sum(_active_count(k, masks.get(id(k))) for k in kernels)
        dense += int(d)
        effective += int(e)
    return dense, effective


def layer_stats(layer: keras.layers.Layer) -> LayerStats:
    """Counts the parameters and MACs of one built leaf layer.

    Args:
        layer: a built Keras layer.

    Returns:
        Its `LayerStats`.

    Raises:
        TypeError: naming `layer` when it is not a Keras layer.
    """
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(f"`layer` must be a Keras layer, got {type(layer).__name__}.")
    masks = mask_of(layer)
    skip = non_parameter_ids(layer)
    params = active = dynamic = static = 0
    for weight in own_weights(layer):
        if id(weight) in skip:
            continue
        size = int(np.prod(weight.shape))
        live = _active_count(weight, masks.get(id(weight)))
        params += size
        active += live
        if weight.trainable:
            dynamic += live
        else:
            static += live
    macs, effective = _macs(layer)
    return LayerStats(
        name=layer.name,
        kind=type(layer).__name__,
        params=params,
        active=active,
        dynamic=dynamic,
        static=static,
        macs=macs,
        effective_macs=effective,
    )


def _sum(values: list[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(values)


@dataclasses.dataclass(frozen=True)
class ModelSummary:
    """Per-layer and total counts of a model.

    Attributes:
        name: the model's name.
        layers: the `LayerStats` of every leaf layer with parameters or MACs.
        total: their sum.
    """

    name: str
    layers: list[LayerStats]
    total: LayerStats

    def by_name(self, name: str) -> LayerStats:
        """Returns the stats of the layer called `name`.

        Raises:
            KeyError: if no counted layer has that name.
        """
        for stats in self.layers:
            if stats.name == name:
                return stats
        raise KeyError(f"No counted layer named {name!r} in {self.name!r}.")

    def to_dict(self) -> dict:
        """Returns the summary as a JSON-serializable dict."""
        return {
            "name": self.name,
            "layers": [s.to_dict() for s in self.layers],
            "total": self.total.to_dict(),
        }

    def table(self) -> str:
        """Returns the summary as a fixed-width text table."""
        header = ("layer", "type", "params", "active", "density", "dynamic", "static",
                  "MACs", "eff. MACs")
        rows = [header]
        for s in [*self.layers, self.total]:
            rows.append((
                s.name, s.kind, f"{s.params:,}", f"{s.active:,}", f"{s.density:.3f}",
                f"{s.dynamic:,}", f"{s.static:,}", _fmt(s.macs), _fmt(s.effective_macs),
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]

        def line(row):
            cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
            cells += [c.rjust(w) for c, w in zip(row[2:], widths[2:], strict=True)]
            return "  ".join(cells)

        rule = "-" * len(line(header))
        body = [line(r) for r in rows[1:-1]]
        return "\n".join([f"Model: {self.name}", rule, line(header), rule, *body, rule,
                          line(rows[-1])])

    def __str__(self) -> str:
        return self.table()


def _fmt(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def summary(model: keras.layers.Layer, print_fn=print) -> ModelSummary:
    """Counts parameters, active parameters and MACs, per layer and in total.

    Plain Keras layers are counted exactly; sparse layers through the
    `SparseLayer` protocol (see `tf_pe.sparsity.accounting` for the definitions).
    MACs need the model's graph (a functional or Sequential model with known
    input shape); where it is missing they show as `?` and are None.

    Args:
        model: a built Keras model or layer.
        print_fn: called with the table; pass None to print nothing.
            Defaults to `print`.

    Returns:
        A `ModelSummary`.

    Raises:
        TypeError: if `model` is not a Keras layer or model.
        ValueError: if `model` is not built.
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"`model` must be a Keras model or layer, got {type(model).__name__}.")
    if not model.built:
        raise ValueError(
            f"`model` {model.name!r} is not built: call it on data or build it first."
        )
    rows = [layer_stats(layer) for layer in leaf_layers(model)]
    rows = [r for r in rows if r.params or r.macs != 0]
    total = LayerStats(
        name="total",
        kind="",
        params=sum(r.params for r in rows),
        active=sum(r.active for r in rows),
        dynamic=sum(r.dynamic for r in rows),
        static=sum(r.static for r in rows),
        macs=_sum([r.macs for r in rows]),
        effective_macs=_sum([r.effective_macs for r in rows]),
    )
    result = ModelSummary(name=model.name, layers=rows, total=total)
    if print_fn is not None:
        print_fn(result.table())
    return result

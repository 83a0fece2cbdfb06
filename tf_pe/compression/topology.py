"""Which layers LRE can shrink: a producer, the layers in between, a consumer.

Lossless redundancy elimination (Shah et al., "LRE-AMC") removes units of a
layer `k` (Dense neurons or Conv2D filters) and folds them into the weights of
the next layer `k + 1`. That needs a chain

    producer (Dense | Conv2D) -> [passthrough ...] -> consumer (Dense | Conv2D)

in which every layer after the producer has exactly one consumer, so that the
producer's unit `i` only feeds channel `i` of the consumer's input. Passthrough
layers act per channel (batch normalization, activations, dropout, pooling) or
only rearrange positions (`Flatten`, between a Conv2D and a Dense).
"""

from __future__ import annotations

import dataclasses

import keras

PRODUCERS = (keras.layers.Dense, keras.layers.Conv2D)
CONSUMERS = (keras.layers.Dense, keras.layers.Conv2D)
_PER_CHANNEL = (
    keras.layers.BatchNormalization,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.ZeroPadding2D,
)
_FLATTEN = (keras.layers.Flatten,)


@dataclasses.dataclass(frozen=True)
class Link:
    """A shrinkable layer and what its units feed.

    Attributes:
        producer: the layer whose units are removed.
        between: the passthrough layers from producer to consumer, in order.
        consumer: the Dense or Conv2D layer whose input channels are the units.
        units: the producer's number of units.
    """

    producer: keras.layers.Layer
    between: tuple[keras.layers.Layer, ...]
    consumer: keras.layers.Layer
    units: int

    @property
    def batch_norms(self) -> tuple[keras.layers.Layer, ...]:
        """The batch-normalization layers between producer and consumer."""
        return tuple(x for x in self.between if isinstance(x, keras.layers.BatchNormalization))


def _is(layer, types) -> bool:
    # Exact types: a subclass (a masked or predicted layer) keeps weights LRE
    # does not know how to slice.
    return type(layer) in types


def _consumers(model: keras.Model) -> dict[int, list[keras.layers.Layer]]:
    out: dict[int, list[keras.layers.Layer]] = {}
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            for tensor in node.input_tensors:
                history = getattr(tensor, "_keras_history", None)
                if history is not None:
                    out.setdefault(id(history.operation), []).append(layer)
    return out


def _output_layers(model: keras.Model) -> set[int]:
    return {id(t._keras_history.operation) for t in model.outputs}


def check_model(model, name: str = "model") -> None:
    """Checks that `model` (the argument called `name`) is a functional Keras model.

    Raises:
        ValueError: naming the argument if it is not a built functional model.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`{name}` must be a functional keras.Model, got {type(model).__name__}.")
    try:
        outputs = model.outputs
    except AttributeError:
        outputs = None
    if not outputs or len(model.inputs) != 1:
        raise ValueError(f"`{name}` {model.name!r} must be a functional keras.Model with one "
                         "input and known outputs (a subclassed model has no graph to edit).")


def find_link(model: keras.Model, layer: str | keras.layers.Layer) -> Link:
    """Finds the chain from `layer` to the next Dense or Conv2D layer.

    Args:
        model: a functional Keras model.
        layer: the name of (or the) Dense or Conv2D layer to shrink.

    Returns:
        The `Link`.

    Raises:
        ValueError: if the layer is not in the model, is not a plain Dense or
            Conv2D, or its output does not reach exactly one Dense/Conv2D layer
            through supported passthrough layers (the message says which layer
            and why).
    """
    check_model(model)
    name = layer if isinstance(layer, str) else getattr(layer, "name", None)
    names = [x.name for x in model.layers]
    if name not in names:
        raise ValueError(f"`layer` {name!r} is not in model {model.name!r}; "
                         f"its layers are {', '.join(names)}.")
    producer = model.get_layer(name)
    if not _is(producer, PRODUCERS):
        raise ValueError(f"`layer` {name!r} is a {type(producer).__name__}; only plain "
                         "Dense and Conv2D layers can be shrunk.")
    if getattr(producer, "groups", 1) != 1:
        raise ValueError(f"`layer` {name!r} is a grouped convolution; not supported.")
    if len(producer._inbound_nodes) != 1:
        raise ValueError(f"`layer` {name!r} is called {len(producer._inbound_nodes)} times; "
                         "shared layers are not supported.")
    consumers = _consumers(model)
    outputs = _output_layers(model)
    between: list[keras.layers.Layer] = []
    current = producer
    while True:
        nexts = consumers.get(id(current), [])
        if id(current) in outputs or len(nexts) != 1:
            why = ("is a model output" if id(current) in outputs
                   else f"feeds {len(nexts)} layers")
            raise ValueError(
                f"cannot shrink `layer` {name!r}: {current.name!r} {why}; the units must "
                "feed exactly one Dense or Conv2D layer through a chain of per-channel "
                "layers.")
        nxt = nexts[0]
        if len(nxt._inbound_nodes) != 1 or len(nxt._inbound_nodes[0].input_tensors) != 1:
            raise ValueError(f"cannot shrink `layer` {name!r}: {nxt.name!r} "
                             f"({type(nxt).__name__}) has several inputs or calls.")
        if _is(nxt, CONSUMERS):
            if getattr(nxt, "groups", 1) != 1:
                raise ValueError(f"cannot shrink `layer` {name!r}: it feeds the grouped "
                                 f"convolution {nxt.name!r}.")
            flattened = any(_is(x, _FLATTEN) for x in between)
            if _is(nxt, (keras.layers.Conv2D,)) and (flattened or _is(producer, (
                    keras.layers.Dense,))):
                raise ValueError(f"cannot shrink `layer` {name!r}: Conv2D {nxt.name!r} after "
                                 "a Dense or Flatten layer is not supported.")
            return Link(producer, tuple(between), nxt, _units(producer))
        if _is(nxt, _PER_CHANNEL) or (_is(nxt, _FLATTEN)
                                      and _is(producer, (keras.layers.Conv2D,))):
            if isinstance(nxt, keras.layers.BatchNormalization) and nxt.axis not in (-1, [-1], (
                    -1,)) and nxt.axis != [len(producer.output.shape) - 1]:
                raise ValueError(f"cannot shrink `layer` {name!r}: BatchNormalization "
                                 f"{nxt.name!r} does not normalize the last axis.")
            between.append(nxt)
            current = nxt
            continue
        raise ValueError(
            f"cannot shrink `layer` {name!r}: it feeds {nxt.name!r}, a "
            f"{type(nxt).__name__}, which is not a supported layer between two "
            "Dense/Conv2D layers (batch norm, activations, dropout, pooling, Flatten).")


def _units(layer) -> int:
    return int(layer.units if isinstance(layer, keras.layers.Dense) else layer.filters)


def shrinkable_layers(model: keras.Model) -> list[str]:
    """Names of the layers of `model` that `find_link` accepts, in model order.

    Raises:
        ValueError: naming `model` when it is not a functional Keras model.
    """
    check_model(model)
    out = []
    for layer in model.layers:
        if _is(layer, PRODUCERS):
            try:
                find_link(model, layer.name)
            except ValueError:
                continue
            out.append(layer.name)
    return out

"""Predicted layers: `W = U W_alpha` with a static dictionary (Denil et al. 2013).

"Predicting Parameters in Deep Learning" (Denil, Shakibi, Dinh, Ranzato, de
Freitas, NeurIPS 2013) learns only `W_alpha` and predicts the rest of each
feature with a fixed dictionary `U` (see `tf_pe.prediction`). `columns` splits
the output units into contiguous groups, each with its own `alpha` and `U`
(the columnar architecture, sec. 3.4):

    W = [U_1 W_alpha[:, cols_1], ..., U_J W_alpha[:, cols_J]].

`U` is a non-trainable variable (static parameters; trainable for the
`"lowrank"` dictionary), `W_alpha` and the bias are trainable (dynamic), so
`tf_pe.summary` reports the paper's split. The layer computes in the order with
fewer multiply-accumulates per example (sec. 3.3, "interpretation as pooling"):
`v (U W_alpha)` or `(v U) W_alpha`; for a convolution the pooled order is a
depthwise convolution of every input channel with the `n_alpha` spatial atoms
followed by a 1x1 convolution with `W_alpha`.

`learned_fraction` is the fraction of the kernel's entries that are learned:
`n_alpha = max(1, round(f * n))` atoms over the `n` locations of a feature (the
inputs of a Dense layer, the `kh * kw` positions of a filter, tied across input
channels). With a learned `U` (lowrank) `n_alpha` is chosen so that `U` and
`W_alpha` together hold about `f` of the kernel's entries.
"""

from __future__ import annotations

import random

import keras
import numpy as np

from tf_pe.prediction import dictionaries as dicts
from tf_pe.prediction.fitting import data_matrix

ORDERS = ("auto", "predict", "pool")


def _check_fraction(value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValueError(f"`learned_fraction` must be in (0, 1], got {value!r}.")
    return float(value)


def split_units(units: int, columns: int) -> list[tuple[int, int]]:
    """The `(start, stop)` output units of each column: contiguous and as equal
    as possible (the first `units % columns` columns get one more)."""
    base, extra = divmod(units, columns)
    bounds, start = [], 0
    for j in range(columns):
        stop = start + base + (j < extra)
        bounds.append((start, stop))
        start = stop
    return bounds


class PredictedLayer(keras.layers.Layer):
    """Shared machinery of `PredictedDense` and `PredictedConv2D`."""

    def _init_prediction(self, units, learned_fraction, dictionary, columns, order, seed,
                         activation, use_bias, kernel_initializer, bias_initializer):
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"`units`/`filters` must be an integer >= 1, got {units!r}.")
        self.learned_fraction = _check_fraction(learned_fraction)
        self.dictionary = dicts.get(dictionary)
        if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
            raise ValueError(f"`columns` must be an integer >= 1, got {columns!r}.")
        if columns > units:
            raise ValueError(f"`columns`={columns} must not exceed the number of output units "
                             f"({units}): each column needs at least one unit.")
        if order not in ORDERS:
            raise ValueError(f"`order` must be one of {', '.join(ORDERS)}; got {order!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"`seed` must be an integer or None, got {seed!r}.")
        self.columns, self.order, self.seed = columns, order, seed
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self._ready = False

    # -- sizes ------------------------------------------------------------
    def _n_alpha(self, n: int, kernel_size: int, out_width: int) -> int:
        """Atoms per column for a domain of `n` locations."""
        if self.dictionary.trainable:
            # U (columns * n * a) + W_alpha (a * out_width) ~ f * kernel_size
            a = self.learned_fraction * kernel_size / (self.columns * n + out_width)
        else:
            a = self.learned_fraction * n
        return int(min(n, max(1, round(a))))

    def _build_prediction(self, domain, out_width, full_shape):
        n = domain.size
        kernel_size = int(np.prod(full_shape))
        self.n_alpha = self._n_alpha(n, kernel_size, out_width)
        self.bounds = split_units(self.units_, self.columns)
        seed = self.seed if self.seed is not None else random.randrange(2**31)
        self._domain, self._dict_seed = domain, seed
        if self.dictionary.fitted:
            u, alpha = self.dictionary.matrices(domain, self.n_alpha, self.columns, seed)
            self._ready = True
        else:
            u = np.zeros((self.columns, n, self.n_alpha), np.float32)
            alpha = np.zeros((self.columns, self.n_alpha), np.int64)
        self.dictionary_matrix = self.add_weight(
            name="dictionary", shape=u.shape, trainable=self.dictionary.trainable,
            initializer=keras.initializers.Constant(u))
        self.alpha = self.add_weight(name="alpha", shape=alpha.shape, dtype="int64",
                                     trainable=False,
                                     initializer=keras.initializers.Constant(alpha))
        self.ready = self.add_weight(name="ready", shape=(), dtype="int64", trainable=False,
                                     initializer=keras.initializers.Constant(int(self._ready)))
        # W_alpha starts with the scale of the full layer's weights: the first
        # rows of a draw of the full kernel from `kernel_initializer`.
        full = keras.ops.convert_to_numpy(self.kernel_initializer(full_shape))
        coef = np.reshape(full, (n, -1))[: self.n_alpha].reshape(
            (self.n_alpha, *full_shape[len(full_shape) - 1 - self._coef_rank:]))
        self.coefficients = self.add_weight(
            name="coefficients", shape=coef.shape, initializer=keras.initializers.Constant(coef))
        self.bias = (self.add_weight(name="bias", shape=(self.units_,),
                                     initializer=self.bias_initializer)
                     if self.use_bias else None)

    def fit_dictionary(self, inputs) -> None:
        """Fits a data-driven dictionary (emp, emp2, ae) on this layer's inputs
        and sets `U` and `alpha` from it."""
        samples = self._dictionary_samples(np.asarray(keras.ops.convert_to_numpy(inputs)))
        self.dictionary.fit(samples)
        u, alpha = self.dictionary.matrices(self._domain, self.n_alpha, self.columns,
                                            self._dict_seed)
        self.dictionary_matrix.assign(u)
        self.alpha.assign(alpha)
        self.ready.assign(1)
        self._ready = True

    def _check_ready(self):
        if not self._ready:
            raise ValueError(
                f"`dictionary` {self.dictionary.name!r} of layer {self.name!r} was never "
                "fitted: call `tf_pe.prediction.fit_predicted_layers(model, x)` or the "
                "layer's `fit_dictionary(inputs)` first, or pass a fitted dictionary.")

    def _order(self, dense_macs: int, pooled_macs: int) -> str:
        if self.order != "auto":
            return self.order
        return "pool" if pooled_macs < dense_macs else "predict"

    def non_parameter_weights(self):
        """Returns `[alpha, ready]`: indices and a flag, not parameters."""
        return [self.alpha, self.ready]

    def load_own_variables(self, store):
        super().load_own_variables(store)
        self._ready = bool(keras.ops.convert_to_numpy(self.ready))

    def _prediction_config(self):
        return {
            "learned_fraction": self.learned_fraction,
            "dictionary": dicts.serialize(self.dictionary),
            "columns": self.columns,
            "order": self.order,
            "seed": self.seed,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }

    def _finish(self, x):
        if self.bias is not None:
            x = keras.ops.add(x, self.bias)
        return self.activation(x) if self.activation is not None else x


@keras.saving.register_keras_serializable(package="tf_pe")
class PredictedDense(PredictedLayer):
    """Dense layer with predicted weights: `y = act(v W + b)`, `W = U W_alpha`.

    Args:
        units: output dimension.
        learned_fraction: fraction of the kernel that is learned, in (0, 1].
            Defaults to 0.25.
        dictionary: a name in `tf_pe.prediction.DICTIONARIES` or a
            `tf_pe.prediction.Dictionary`. Defaults to `"se"`.
        columns: columns (groups of output units), each with its own `alpha`
            and `U`, in [1, units]. Defaults to 1.
        order: `"auto"` (fewer MACs per example), `"predict"` (`v (U W_alpha)`)
            or `"pool"` (`(v U) W_alpha`). Defaults to `"auto"`.
        seed: seeds the locations `alpha` and random dictionaries; None draws
            one. Defaults to None.
        activation, use_bias, kernel_initializer, bias_initializer: as in
            `keras.layers.Dense` (`kernel_initializer` draws `W_alpha` at the
            full kernel's scale).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Raises:
        ValueError: for `learned_fraction` outside (0, 1], more columns than
            units, an unknown dictionary or order.
    """

    _coef_rank = 0

    def __init__(self, units, learned_fraction=0.25, dictionary="se", columns=1,
                 order="auto", seed=None, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self._init_prediction(units, learned_fraction, dictionary, columns, order, seed,
                              activation, use_bias, kernel_initializer, bias_initializer)
        self.units = self.units_ = units
        self.input_spec = keras.layers.InputSpec(min_ndim=2)

    def build(self, input_shape):
        n = int(input_shape[-1])
        # Later calls must bring the same number of features.
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: n})
        grid = getattr(self.dictionary, "grid", None)
        domain = dicts.Domain.grid(grid) if grid is not None else dicts.Domain.chain(n)
        if domain.size != n:
            raise ValueError(f"`grid` {grid} of the dictionary has {domain.size} locations, "
                             f"the layer's input has {n}.")
        self._build_prediction(domain, self.units, (n, self.units))

    def _dictionary_samples(self, inputs):
        return inputs.reshape(-1, inputs.shape[-1])

    def effective_kernel(self):
        """The predicted kernel `W`, `[in, units]` like `keras.layers.Dense`'s."""
        u, c = self.dictionary_matrix, self.coefficients
        return keras.ops.concatenate(
            [keras.ops.matmul(u[j], c[:, a:b]) for j, (a, b) in enumerate(self.bounds)], axis=1)

    def count_macs(self, input_shape, output_shape):
        """Returns `(dense, effective)` MACs per example: `n * units`, and the
        chosen order's (`J * n * n_alpha + n_alpha * units` when pooling)."""
        positions = int(np.prod([d for d in input_shape[1:-1]] or [1]))
        n = int(input_shape[-1])
        dense = n * self.units
        pooled = self.columns * n * self.n_alpha + self.n_alpha * self.units
        return positions * dense, positions * (pooled if self._order(dense, pooled) == "pool"
                                               else dense)

    def call(self, inputs):
        self._check_ready()
        n = int(inputs.shape[-1])
        dense = n * self.units
        pooled = self.columns * n * self.n_alpha + self.n_alpha * self.units
        if self._order(dense, pooled) == "predict":
            x = keras.ops.matmul(inputs, self.effective_kernel())
        else:
            c = self.coefficients
            x = keras.ops.concatenate(
                [keras.ops.matmul(keras.ops.matmul(inputs, self.dictionary_matrix[j]), c[:, a:b])
                 for j, (a, b) in enumerate(self.bounds)], axis=-1)
        return self._finish(x)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, **self._prediction_config()}


@keras.saving.register_keras_serializable(package="tf_pe")
class PredictedConv2D(PredictedLayer):
    """2-D convolution with predicted filters: `y = act(v * W + b)`, where each
    `kh x kw` slice `W[:, :, c, o]` is `U` times the coefficients
    `W_alpha[:, c, o]` (the spatial locations `alpha` are tied across input
    channels, Denil et al. sec. 3.2 and 3.4).

    Args:
        filters: output channels.
        kernel_size: an int or a pair.
        learned_fraction: fraction of the kernel that is learned, in (0, 1];
            the number of learned positions per filter slice is
            `max(1, round(f * kh * kw))`. Defaults to 0.25.
        dictionary: as in `PredictedDense`, over the filter's `kh x kw` grid.
            Defaults to `"se"`.
        columns: groups of filters with their own `alpha` and `U`.
            Defaults to 1.
        order: `"auto"`, `"predict"` (`v * (U W_alpha)`) or `"pool"` (a
            depthwise convolution with the atoms of `U`, then a 1x1 convolution
            with `W_alpha`). Defaults to `"auto"`.
        seed: seeds `alpha` and random dictionaries. Defaults to None.
        strides, padding, dilation_rate, activation, use_bias,
        kernel_initializer, bias_initializer: as in `keras.layers.Conv2D`.
        data_format: only `"channels_last"` (or None) is supported.
        **kwargs: base layer arguments.

    Raises:
        ValueError: as `PredictedDense`, and for `channels_first` data.
    """

    _coef_rank = 1

    def __init__(self, filters, kernel_size, learned_fraction=0.25, dictionary="se",
                 columns=1, order="auto", seed=None, strides=(1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self._init_prediction(filters, learned_fraction, dictionary, columns, order, seed,
                              activation, use_bias, kernel_initializer, bias_initializer)
        self.filters = self.units_ = filters
        self.kernel_size = _pair("kernel_size", kernel_size)
        self.strides = _pair("strides", strides)
        self.dilation_rate = _pair("dilation_rate", dilation_rate)
        if padding not in ("valid", "same"):
            raise ValueError(f"`padding` must be 'valid' or 'same', got {padding!r}.")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"`data_format` must be 'channels_last' (or None), "
                             f"got {data_format!r}.")
        self.padding, self.data_format = padding, "channels_last"
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        self.in_channels = int(input_shape[-1])
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={-1: self.in_channels})
        kh, kw = self.kernel_size
        self._build_prediction(dicts.Domain.grid((kh, kw)), self.in_channels * self.filters,
                               (kh, kw, self.in_channels, self.filters))

    def _dictionary_samples(self, inputs):
        import tensorflow as tf

        x = np.asarray(inputs, np.float32)[:32]
        n, h, w, c = x.shape
        x = np.transpose(x, (0, 3, 1, 2)).reshape(n * c, h, w, 1)
        kh, kw = self.kernel_size
        patches = tf.image.extract_patches(x, [1, kh, kw, 1], [1, 1, 1, 1],
                                           [1, *self.dilation_rate, 1], "VALID")
        rows = patches.numpy().reshape(-1, kh * kw)
        keep = np.random.default_rng(self._dict_seed).permutation(len(rows))[:20_000]
        return data_matrix(rows[keep], len(keep))

    def effective_kernel(self):
        """The predicted kernel, `[kh, kw, in, filters]` like `keras.layers.Conv2D`'s."""
        kh, kw = self.kernel_size
        parts = [keras.ops.einsum("ks,sco->kco", self.dictionary_matrix[j],
                                  self.coefficients[:, :, a:b])
                 for j, (a, b) in enumerate(self.bounds)]
        return keras.ops.reshape(keras.ops.concatenate(parts, axis=-1),
                                 (kh, kw, self.in_channels, self.filters))

    def _macs(self):
        kh, kw = self.kernel_size
        dense = kh * kw * self.in_channels * self.filters
        pooled = (self.columns * kh * kw * self.in_channels * self.n_alpha
                  + self.n_alpha * self.in_channels * self.filters)
        return dense, pooled

    def count_macs(self, input_shape, output_shape):
        """Returns `(dense, effective)` MACs per example: output positions times
        `kh kw in filters`, and times the chosen order's per-position cost
        (`J kh kw in n_alpha + n_alpha in filters` when pooling)."""
        positions = int(np.prod(output_shape[1:-1]))
        dense, pooled = self._macs()
        chosen = pooled if self._order(dense, pooled) == "pool" else dense
        return positions * dense, positions * chosen

    def call(self, inputs):
        self._check_ready()
        conv_args = {"strides": self.strides, "padding": self.padding,
                     "data_format": self.data_format, "dilation_rate": self.dilation_rate}
        if self._order(*self._macs()) == "predict":
            return self._finish(keras.ops.conv(inputs, self.effective_kernel(), **conv_args))
        kh, kw = self.kernel_size
        outs = []
        for j, (a, b) in enumerate(self.bounds):
            atoms = keras.ops.reshape(self.dictionary_matrix[j], (kh, kw, 1, self.n_alpha))
            atoms = keras.ops.tile(atoms, (1, 1, self.in_channels, 1))
            pooled = keras.ops.depthwise_conv(inputs, atoms, **conv_args)  # channel c*s
            mix = keras.ops.transpose(self.coefficients[:, :, a:b], (1, 0, 2))
            mix = keras.ops.reshape(mix, (1, 1, self.in_channels * self.n_alpha, b - a))
            outs.append(keras.ops.conv(pooled, mix, data_format=self.data_format))
        return self._finish(keras.ops.concatenate(outs, axis=-1))

    def compute_output_shape(self, input_shape):
        spatial = []
        for size, k, s, d in zip(input_shape[1:3], self.kernel_size, self.strides,
                                 self.dilation_rate, strict=True):
            if size is None:
                spatial.append(None)
            elif self.padding == "same":
                spatial.append(-(-size // s))
            else:
                spatial.append(-(-(size - d * (k - 1)) // s))
        return (input_shape[0], *spatial, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), **self._prediction_config()}


def _pair(name, value) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1
                             for v in pair):
        raise ValueError(f"`{name}` must be a positive int or a pair of them, got {value!r}.")
    return pair

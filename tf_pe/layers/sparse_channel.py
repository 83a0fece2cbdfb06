"""`SparseChannelConv2D`: a convolution whose output channels see only some inputs.

Changpinyo, Sandler, Zhmoginov 2017, "The Power of Sparsity in Convolutional Neural
Networks", sec. 3.2 ("sparse random"): output channel `j` is connected to a subset
of the input channels, with the same connections at every spatial position. With a
connection mask `M` of shape `[in, filters]` and kernel `W` of shape
`[kh, kw, in, filters]`, the layer computes

    y = activation(conv2d(x, W * M) + b),   (W * M)[s, t, i, j] = W[s, t, i, j] M[i, j].

Because the mask multiplies the kernel inside the computation, the gradient of
every inactive kernel entry is exactly zero: optimizers without weight decay never
move those entries, their slots (momentum, Adam moments) stay zero, and with weight
decay they only shrink. Inactive kernel entries are therefore *irrelevant*: the
effective kernel `W * M` is what the layer computes with and what export uses, and
`tf_pe.callbacks.Densify` sets the slices it activates (to zero by default).
"""

from __future__ import annotations

import zlib

import keras
import numpy as np

from tf_pe.layers.saving import SavesAllVariables
from tf_pe.models.sparsify import Converter, register_converter
from tf_pe.sparsity import patterns

_SEED_LIMIT = 2**31 - 1


@keras.saving.register_keras_serializable(package="tf_pe")
class SparseChannelConv2D(SavesAllVariables, keras.layers.Conv2D):
    """2-D convolution with a fixed-per-position channel connection mask.

    Takes every argument of `keras.layers.Conv2D` (filters, kernel_size, strides,
    padding, data_format, dilation_rate, activation, use_bias, initializers,
    regularizers, constraints), except `groups`, which must be 1, plus:

    Args:
        filters: number of output channels.
        kernel_size: an int or pair, the spatial size of the kernel.
        density: the fraction of `[in, filters]` connections that are active, in
            (0, 1]; `sqrt(density)` when `in == 1` or `filters == 1`
            (see `tf_pe.sparsity.patterns.active_count`). This is the density the
            layer is built with; densification may raise it later (see
            `current_density`). Defaults to 0.1.
        pattern: `"random"` (uniform, no dead filters, the paper's) or `"block"`
            (groups of outputs share one input subset). Defaults to `"random"`.
        seed: the mask seed, an integer in [0, 2**31 - 1], or None to draw one from
            NumPy's global generator at build time (seeded by
            `keras.utils.set_random_seed`). Either way the seed is mixed with the
            layer name and stored in the non-trainable variable `mask_seed`, which
            also seeds the choices of densification. Defaults to None.
        **kwargs: the arguments of `keras.layers.Conv2D`.

    Raises:
        ValueError: for a density outside (0, 1], an unknown pattern, a bad seed,
            `groups != 1`, or (at build time) an input with zero channels.
    """

    def __init__(self, filters, kernel_size, density=0.1, pattern="random", seed=None,
                 **kwargs):
        if kwargs.get("groups", 1) != 1:
            raise ValueError(f"`groups` must be 1 for SparseChannelConv2D, got "
                             f"{kwargs['groups']}.")
        super().__init__(filters, kernel_size, **kwargs)
        self.density = patterns.check_density(density)
        self.pattern = patterns.check_pattern(pattern)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)
                                 or not 0 <= seed <= _SEED_LIMIT):
            raise ValueError(f"`seed` must be None or an integer in [0, {_SEED_LIMIT}], "
                             f"got {seed!r}.")
        self.seed = None if seed is None else int(seed)

    def build(self, input_shape):
        channel_axis = -1 if self.data_format == "channels_last" else 1
        in_channels = input_shape[channel_axis]
        if in_channels is None or in_channels < 1:
            raise ValueError(f"`input_shape` must have at least one channel on axis "
                             f"{channel_axis}, got {tuple(input_shape)}.")
        super().build(input_shape)
        base = int(np.random.randint(0, _SEED_LIMIT)) if self.seed is None else self.seed
        mask_seed = zlib.crc32(f"{base}/{self.name}".encode()) & _SEED_LIMIT
        mask = patterns.connection_mask(int(in_channels), self.filters, self.density,
                                        self.pattern, seed=mask_seed)
        self.mask = self.add_weight(
            name="mask", shape=mask.shape, trainable=False,
            initializer=keras.initializers.Constant(mask), dtype=self.variable_dtype)
        self.mask_seed = self.add_weight(
            name="mask_seed", shape=(), trainable=False, dtype="int64",
            initializer=keras.initializers.Constant(mask_seed))
        self.densify_step = self.add_weight(
            name="densify_step", shape=(), trainable=False, dtype="int64",
            initializer="zeros")

    def convolution_op(self, inputs, kernel):
        # The mask is applied inside the graph, so d(loss)/d(kernel) is masked too.
        def dense():
            return super(SparseChannelConv2D, self).convolution_op(
                inputs, kernel * keras.ops.cast(self.mask, kernel.dtype))

        if not self._sparse_eligible():
            return dense()
        from tf_pe import ops  # the op and grouped paths are TensorFlow-only

        mode = ops.dispatch.mode()
        dtype = str(keras.backend.standardize_dtype(kernel.dtype))
        traced = ops.dispatch.traced_value(self.mask)
        count = int(np.count_nonzero(traced))
        if dtype not in ("float32", "float64"):  # no op kernels: grouped or masked dense
            max_count = count if mode == "grouped" else self._max_count(f"grouped_{dtype}")
            if mode in ("op", "hybrid") or count > max_count:
                return dense()
            return self._on_traced_mask(inputs, kernel, traced, "grouped", dense)

        def op():  # any mask: the compact structure from the live mask, in the graph
            compact, indptr, indices = ops.compact_from_mask(kernel, self.mask)
            return ops.sparse_channel_conv2d(
                inputs, compact, indptr, indices, strides=self.strides,
                padding=self.padding.upper(), dilations=self.dilation_rate)

        if mode == "op":
            return self._on_traced_mask(inputs, kernel, traced, "op", op)
        if mode in ("grouped", "hybrid"):
            return self._on_traced_mask(inputs, kernel, traced, mode, dense)
        # Measured rule (tf_pe.ops.dispatch): the first implementation of the
        # layer class's preference whose rule selects the traced mask runs while
        # the mask is unchanged; after a change, the op or masked dense by the
        # live mask's count.
        op_count = self._max_count("op")

        def live():
            if op_count == 0:
                return dense()
            return ops.dispatch.while_at_most(self.mask, op_count, op, dense)

        entries = ops.dispatch.PREFER[ops.dispatch.layer_class(
            self.pattern, self.kernel_size, self.strides)]
        for implementation in ops.dispatch.order(entries, count / traced.size):
            if 0 < count <= self._max_count(implementation):
                return self._on_traced_mask(inputs, kernel, traced, implementation, live)
        return live()

    def _on_traced_mask(self, inputs, kernel, traced, implementation, otherwise):
        """`implementation` ("op", "grouped" or "hybrid") with the structure of the
        mask `traced` (read when tracing) while the mask still equals it, else
        `otherwise()`; `otherwise()` alone when `traced` has no grouped structure
        (for "grouped" and "hybrid") or TensorFlow cannot differentiate a grouped
        convolution of this dtype here."""
        from tf_pe import ops

        attrs = (self.strides, self.padding.upper(), self.dilation_rate)
        if implementation == "op":
            compact = ops.compact_structure(traced)

            def run():
                return ops.compact_conv2d(inputs, kernel, compact, *attrs)
        else:
            structure = ops.grouped_structure(traced)
            if structure is None or not ops.grouped.supported(kernel.dtype) or (
                    implementation == "hybrid"
                    and keras.backend.standardize_dtype(kernel.dtype) != "float32"):
                return otherwise()
            if implementation == "grouped":
                def run():
                    return ops.grouped_conv2d(inputs, kernel, structure, *attrs)
            else:
                compact = ops.compact_structure(traced)

                def run():
                    return ops.hybrid_conv2d(inputs, kernel, structure, compact, *attrs)

        return ops.dispatch.while_equal(self.mask, traced, run, otherwise)

    def _max_count(self, implementation) -> int:
        """The most active connections with which `auto` runs this layer on
        `implementation` (a key of `tf_pe.ops.dispatch.RULE`; 0 for one without a
        rule, such as "grouped_float16")."""
        from tf_pe import ops

        if implementation not in ops.dispatch.RULE:
            return 0
        limit = ops.dispatch.max_density(implementation, self.pattern, self.kernel_size,
                                         self.strides, int(self.mask.shape[0]))
        # The limits are measured active fractions (k / in): no rounding below k.
        return int(limit * int(np.prod(self.mask.shape)) + 1e-6)

    def _sparse_eligible(self) -> bool:
        """Whether the op or the grouped path may compute this layer (op library
        loaded, TensorFlow backend, NHWC, dispatch mode not "dense"); the dtype
        decides which (`convolution_op`)."""
        if keras.backend.backend() != "tensorflow" or self.data_format != "channels_last":
            return False
        from tf_pe import ops

        return ops.dispatch.mode() != "dense" and ops.loader.load() is not None

    def sparse_weights(self):
        """Returns `[(kernel, mask)]` (the `SparseLayer` protocol)."""
        return [(self.kernel, self.mask)]

    def non_parameter_weights(self):
        """Returns the bookkeeping variables `[mask_seed, densify_step]`."""
        return [self.mask_seed, self.densify_step]

    @property
    def active_connections(self) -> int:
        """The number of active `(input, output)` channel pairs."""
        return int(np.count_nonzero(keras.ops.convert_to_numpy(self.mask)))

    @property
    def current_density(self) -> float:
        """Active connections over `in * filters` (changes with densification)."""
        return self.active_connections / int(np.prod(self.mask.shape))

    def effective_kernel(self):
        """Returns `kernel * mask`, the kernel the layer computes with."""
        return self.kernel * keras.ops.cast(self.mask, self.kernel.dtype)

    def get_config(self):
        config = {"density": self.density, "pattern": self.pattern, "seed": self.seed}
        return {**super().get_config(), **config}


def _accepts(layer) -> bool:
    return type(layer) is keras.layers.Conv2D and layer.groups == 1


def _convert(layer, density, seed, pattern="random"):
    config = layer.get_config()
    config.pop("groups", None)
    return SparseChannelConv2D(density=density, pattern=pattern, seed=seed, **config)


register_converter(Converter("channel", _accepts, _convert))

"""Helpers for the model-zoo tests: a recording layer factory and hand counts."""

import keras


class RecordingFactories:
    """Layer factories that record every call and build the stock Keras layer."""

    def __init__(self):
        self.calls = []  # (kind, name, width, kwargs)

    def conv(self, filters, kernel_size, **kwargs):
        assert "name" in kwargs, "conv_layer called without name="
        self.calls.append(("conv", kwargs["name"], filters, kwargs))
        return keras.layers.Conv2D(filters, kernel_size, **kwargs)

    def dense(self, units, **kwargs):
        assert "name" in kwargs, "dense_layer called without name="
        self.calls.append(("dense", kwargs["name"], units, kwargs))
        return keras.layers.Dense(units, **kwargs)

    def names(self, kind=None):
        return [name for k, name, _, _ in self.calls if kind in (None, k)]


def conv_params(kernel, c_in, c_out, bias=True):
    """Independent count of a 2-D convolution's parameters."""
    return kernel * kernel * c_in * c_out + (c_out if bias else 0)


def dense_params(n_in, n_out):
    """Independent count of a dense layer's parameters (kernel + bias)."""
    return n_in * n_out + n_out


def trainable_count(model):
    """Number of trainable scalars in a model."""
    return sum(int(w.numpy().size) for w in model.trainable_weights)

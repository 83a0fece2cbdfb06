"""A minimal masked layer for testing the protocol without tf_pe's own layers."""

import keras
import numpy as np


class FakeMaskedDense(keras.layers.Dense):
    """Dense with an elementwise mask and one bookkeeping variable."""

    def __init__(self, units, mask_value=None, **kwargs):
        super().__init__(units, **kwargs)
        self.mask_value = mask_value

    def build(self, input_shape):
        super().build(input_shape)
        init = "ones" if self.mask_value is None else keras.initializers.Constant(
            np.asarray(self.mask_value, dtype="float32"))
        self.mask = self.add_weight(name="mask", shape=self.kernel.shape,
                                    initializer=init, trainable=False)
        self.step = self.add_weight(name="step", shape=(), initializer="zeros",
                                    trainable=False, dtype="int64")

    def call(self, inputs):
        return self.activation(keras.ops.matmul(inputs, self.kernel * self.mask) + self.bias)

    def sparse_weights(self):
        return [(self.kernel, self.mask)]

    def non_parameter_weights(self):
        return [self.step]


class FakeChannelConv(keras.layers.Conv2D):
    """Conv2D with an `[in, out]` channel mask broadcast over the kernel."""

    def __init__(self, filters, kernel_size, mask_value, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self.mask_value = mask_value

    def build(self, input_shape):
        super().build(input_shape)
        self.mask = self.add_weight(
            name="mask", shape=self.kernel.shape[2:], trainable=False,
            initializer=keras.initializers.Constant(np.asarray(self.mask_value, "float32")))

    def sparse_weights(self):
        return [(self.kernel, self.mask)]

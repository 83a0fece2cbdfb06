"""Saving every variable of a layer that subclasses a Keras Dense or conv layer."""

import keras


class SavesAllVariables:
    """Mixin: `.keras` files keep every variable, masks and bookkeeping included.

    Keras' Dense and convolution layers save only their kernel and bias (the
    slots of their quantization formats), which would drop a tf_pe layer's mask,
    seed and schedule state; this restores `keras.layers.Layer`'s rule of saving
    all of a layer's own variables in order. Put it before the Keras class in the
    bases.
    """

    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)

"""What the distributed tests train: one model with every tf_pe layer, and one
case per callback. Imported by the subprocess scripts (`mirrored_run.py`,
`worker_run.py`) after they configure TensorFlow's devices, never by pytest
itself before that."""

import keras
import numpy as np

from tf_pe import callbacks, layers

LAYERS = ("SparseChannelConv2D", "MaskedConv2D", "MaskedDepthwiseConv2D", "PredictedConv2D",
          "MaskedDense", "PredictedDense")
# Each case trains a fresh model with two callbacks at most (one that changes
# SparseChannelConv2D masks, one that changes the masked layers'); the predicted
# layers train with fixed dictionaries in every case.
CASES = {
    "densify_every+dsr": ("DensifyEvery", "DynamicSparseReparam"),
    "densify+set": ("Densify", "SET"),
    "gmp": ("GradualMagnitudePruning",),
}
EXAMPLES, GLOBAL_BATCH, EPOCHS = 64, 16, 2
STEPS = EPOCHS * EXAMPLES // GLOBAL_BATCH


def build_model(seed=None):
    """The model, built in the current strategy's scope; `seed=None` lets every
    layer draw its own mask seed (workers must still agree)."""
    def s(offset):
        return None if seed is None else seed + offset

    inputs = keras.Input((8, 8, 3))
    h = layers.SparseChannelConv2D(8, 3, density=0.25, seed=s(1), padding="same",
                                   activation="relu", name="SparseChannelConv2D")(inputs)
    h = layers.MaskedConv2D(8, 3, density=0.3, seed=s(2), padding="same",
                            activation="relu", name="MaskedConv2D")(h)
    h = layers.MaskedDepthwiseConv2D(3, density=0.5, seed=s(3), padding="same",
                                     name="MaskedDepthwiseConv2D")(h)
    h = layers.PredictedConv2D(8, 3, seed=s(4), padding="same", name="PredictedConv2D")(h)
    h = keras.layers.Flatten()(h)
    h = layers.MaskedDense(16, density=0.3, seed=s(5), activation="relu",
                           name="MaskedDense")(h)
    h = layers.PredictedDense(4, seed=s(6), name="PredictedDense")(h)
    outputs = keras.layers.Activation("linear", dtype="float32")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def make_callback(name, log_dir):
    """The callback called `name`; DSR also writes TensorBoard summaries to `log_dir`."""
    if name == "Densify":
        return callbacks.Densify(callbacks.LinearSchedule(0.25, 1.0, STEPS))
    if name == "DensifyEvery":
        return callbacks.DensifyEvery(2, initial_density=0.25)
    if name == "DynamicSparseReparam":
        return callbacks.DynamicSparseReparam(period=2, target_prune_fraction=0.1,
                                              log_dir=log_dir)
    if name == "SET":
        return callbacks.SET(zeta=0.3, period=2)
    return callbacks.GradualMagnitudePruning(0.1, end_step=STEPS - 2, initial_density=0.3,
                                             period=2)


def dataset(tf):
    """`EXAMPLES` random 8x8x3 images with 4 classes, batched globally."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(EXAMPLES, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 4, EXAMPLES)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)


def state_variables(model):
    """`{layer name: {variable name: variable}}` of every tf_pe layer."""
    return {layer.name: {v.name: v for v in layer.weights}
            for layer in model.layers if layer.name in LAYERS}


def masks_of(model):
    """`{layer name: mask as a numpy array}` of the layers that have one."""
    return {layer: np.asarray(vs["mask"].numpy()) for layer, vs in state_variables(model).items()
            if "mask" in vs}

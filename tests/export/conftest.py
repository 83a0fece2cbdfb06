"""Small models trained on real Fashion-MNIST, one per tf_pe layer family, shared by
the export tests (trained once per session: 1 epoch on 2,048 images each)."""

import keras
import numpy as np
import pytest

import tf_pe
from tf_pe import compression, data, layers

TRAIN_TAKE, TEST_TAKE = 2048, 1000


@pytest.fixture(scope="session")
def fashion(fashion_data_dir):
    """`(train_ds, x_test, y_test)`: a training pipeline and 1,000 test images as arrays."""
    train = data.load("fashion_mnist", "train", 32, data_dir=fashion_data_dir, seed=0,
                      take=TRAIN_TAKE)
    test = data.load("fashion_mnist", "test", 500, data_dir=fashion_data_dir, shuffle=False,
                     take=TEST_TAKE)
    x, y = zip(*test.as_numpy_iterator(), strict=True)
    return train, np.concatenate(x), np.concatenate(y)


def _mixed():
    inputs = keras.Input((28, 28, 1), name="input")
    x = layers.MaskedConv2D(16, 3, density=0.5, seed=1, activation="relu",
                            name="conv1")(inputs)
    x = layers.MaskedDepthwiseConv2D(3, density=0.5, seed=2, strides=2, padding="same",
                                    activation="relu", name="dw")(x)
    x = layers.SparseChannelConv2D(16, 3, density=0.5, pattern="block", seed=6,
                                   padding="same", activation="relu", name="sparse")(x)
    x = layers.PredictedConv2D(16, 3, learned_fraction=0.5, dictionary="se", seed=3,
                               activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = layers.PredictedDense(48, learned_fraction=0.25, dictionary="se", columns=2, seed=4,
                              activation="relu", name="fc1")(x)
    outputs = layers.MaskedDense(10, density=0.5, seed=5, name="logits")(x)
    return keras.Model(inputs, outputs, name="mixed")


def _fit(model, train):
    model.compile(keras.optimizers.Adam(5e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="session")
def trained(fashion):
    """`{name: model}`: LeNet-5 with random-pattern `SparseChannelConv2D`; a net of
    every other tf_pe layer type (three masked, two predicted, a block-pattern
    `SparseChannelConv2D`); and an LRE-shrunk LeNet-5."""
    train, _, _ = fashion
    keras.utils.set_random_seed(0)
    models = {"channel": _fit(tf_pe.sparsify(tf_pe.models.lenet5(), method="channel",
                                             density=0.5, pattern="random", seed=0), train),
              "mixed": _fit(_mixed(), train)}
    dense = _fit(tf_pe.models.lenet5(), train)
    small, _ = compression.shrink(dense, "fc1", train, 60, max_batches=8)
    small, _ = compression.shrink(small, "conv2", train, 6, max_batches=8)
    models["lre"] = small
    return models


TF_PE_TYPES = {
    "channel": {"SparseChannelConv2D"},
    "mixed": {"MaskedConv2D", "MaskedDepthwiseConv2D", "MaskedDense", "SparseChannelConv2D",
              "PredictedConv2D", "PredictedDense"},
    "lre": set(),
}
"""The tf_pe layer types each trained model holds (tests check it, so that every
layer type is exported)."""

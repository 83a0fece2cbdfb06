"""Fitting data-driven dictionaries: data matrices, the autoencoder, and
`fit_predicted_layers`, which fits every predicted layer of a model in order.

Denil et al. 2013 (sec. 3.5) build the kernel of a deep layer from the
activations of the layers below it. `fit_predicted_layers` does this greedily:
each layer's dictionary is fitted on its inputs as computed by the model with
the dictionaries below already fitted (at their initial, untrained
coefficients; the paper pre-trains each layer as an autoencoder first).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def data_matrix(data, max_examples: int) -> np.ndarray:
    """Returns at most `max_examples` rows of `data` as float64 `[N, n]`.

    Args:
        data: an array `[N, ...]` or a `tf.data.Dataset` of `x` or `(x, y)`
            batches.
        max_examples: the number of rows kept.

    Raises:
        ValueError: when `data` holds fewer than 2 examples.
    """
    if isinstance(data, tf.data.Dataset):
        parts, count = [], 0
        for batch in data:
            x = batch[0] if isinstance(batch, tuple | list) else batch
            x = np.asarray(x)
            parts.append(x)
            count += len(x)
            if count >= max_examples:
                break
        data = np.concatenate(parts) if parts else np.zeros((0, 1))
    x = np.asarray(keras.ops.convert_to_numpy(data), dtype=np.float64)
    x = x.reshape(len(x), -1)[:max_examples]
    if len(x) < 2:
        raise ValueError(f"`data` must hold at least 2 examples, got {len(x)}.")
    return x


def train_autoencoder(x: np.ndarray, size: int, epochs: int, seed: int) -> np.ndarray:
    """Trains a tied-weight sigmoid autoencoder `x' = sigmoid(x D + b) D^T + c`
    with Adam on squared error and returns `D`, `[n, size]`."""
    n = x.shape[1]
    mean, std = x.mean(0), x.std() or 1.0
    xs = tf.constant((x - mean) / std, tf.float32)
    rng = np.random.default_rng(seed)
    d = tf.Variable(rng.normal(0, 1 / np.sqrt(n), (n, size)).astype(np.float32))
    b = tf.Variable(tf.zeros(size))
    c = tf.Variable(tf.zeros(n))
    opt = keras.optimizers.Adam(1e-3)
    batches = tf.data.Dataset.from_tensor_slices(xs).shuffle(len(x), seed=seed).batch(128)

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            h = tf.sigmoid(batch @ d + b)
            loss = tf.reduce_mean(tf.square(h @ tf.transpose(d) + c - batch))
        opt.apply_gradients(zip(tape.gradient(loss, [d, b, c]), [d, b, c], strict=True))
        return loss

    for _ in range(epochs):
        for batch in batches:
            step(batch)
    return d.numpy().astype(np.float64)


def fit_predicted_layers(model: keras.Model, data, max_examples: int = 10_000) -> list[str]:
    """Fits the data-driven dictionaries of every predicted layer of `model`,
    bottom-up, each on that layer's inputs.

    Args:
        model: a functional or Sequential model holding `PredictedDense` /
            `PredictedConv2D` layers.
        data: model inputs, an array or a dataset (see `data_matrix`).
        max_examples: at most this many input examples are used.
            Defaults to 10000.

    Returns:
        The names of the layers that were fitted.

    Raises:
        TypeError: naming `model` when it is not a Keras model.
        ValueError: naming `data` or `max_examples` when invalid.
    """
    from tf_pe.layers.predicted import PredictedLayer

    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise ValueError(f"`max_examples` must be an integer >= 1, got {max_examples!r}.")
    if data is None:
        raise ValueError("`data` must be model inputs (an array or a dataset), got None.")
    if isinstance(data, tf.data.Dataset):
        data = _stack_inputs(data, max_examples)
    data = np.asarray(data)[:max_examples]
    fitted = []
    for layer in model.layers:
        if isinstance(layer, PredictedLayer) and layer.dictionary.needs_data:
            probe = keras.Model(model.inputs, layer.input)
            inputs = probe.predict(data, batch_size=256, verbose=0)
            layer.fit_dictionary(inputs)
            fitted.append(layer.name)
    return fitted


def _stack_inputs(dataset, max_examples):
    parts, count = [], 0
    for batch in dataset:
        x = np.asarray(batch[0] if isinstance(batch, tuple | list) else batch)
        parts.append(x)
        count += len(x)
        if count >= max_examples:
            break
    return np.concatenate(parts)

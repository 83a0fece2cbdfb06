import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_pe.callbacks import Densify, DensifyEvery, LinearSchedule, densify_layer
from tf_pe.layers import SparseChannelConv2D
from tf_pe.sparsity import patterns

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 6, 6, 16)).astype("float32")
Y = RNG.integers(0, 3, size=64)


def make_model(density=1 / 16, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((6, 6, 16)),
        SparseChannelConv2D(16, 3, density=density, seed=seed, activation="relu", name="conv"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, name="fc"),
    ])
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


class Recorder(keras.callbacks.Callback):
    """Records the active connections seen by each training batch."""

    def __init__(self):
        super().__init__()
        self.counts = []

    def on_train_batch_begin(self, batch, logs=None):
        self.counts.append(self.model.get_layer("conv").active_connections)


def fit(model, callbacks, steps, start=0):
    """Trains on `steps` batches of 4, from batch `start` on."""
    part = slice(4 * start, 4 * (start + steps))
    assert len(X[part]) == 4 * steps
    model.fit(X[part], Y[part], batch_size=4, epochs=1, shuffle=False,
              callbacks=callbacks, verbose=0)


def test_densify_every_doubles_at_the_right_steps_and_stops_dense():
    model = make_model()
    recorder = Recorder()
    fit(model, [DensifyEvery(3), recorder], steps=12)
    fit(model, [DensifyEvery(3), recorder], steps=6)  # a second fit continues the count
    # 256 channel pairs; start at 1/16 = 16 connections, x2 every 3 steps.
    assert recorder.counts == [16] * 3 + [32] * 3 + [64] * 3 + [128] * 3 + [256] * 6
    assert int(model.get_layer("conv").densify_step.numpy()) == 18


def test_explicit_initial_density_and_final_cap():
    model = make_model(density=1 / 16)
    recorder = Recorder()
    fit(model, [DensifyEvery(2, factor=4, initial_density=0.125, final_density=0.75),
                recorder], steps=6)
    assert recorder.counts == [32, 32, 128, 128, 192, 192]


def test_outputs_unchanged_across_a_densify_step_when_new_weights_start_at_zero():
    model = make_model(density=0.25)
    conv = model.get_layer("conv")
    before_mask, before = conv.mask.numpy(), model(X[:8]).numpy()
    assert densify_layer(conv, 0.5, step=3) == 64
    assert conv.active_connections == 128 and (conv.mask.numpy() >= before_mask).all()
    np.testing.assert_allclose(model(X[:8]), before, rtol=1e-6, atol=1e-7)
    assert densify_layer(conv, 0.75, step=4, init_stddev=0.5) == 64
    assert not np.allclose(model(X[:8]), before, atol=1e-4)


def test_new_connections_are_random_and_seeded_by_step():
    masks = []
    for step in (5, 5, 6):
        model = make_model(density=0.25)
        densify_layer(model.get_layer("conv"), 0.5, step=step)
        masks.append(model.get_layer("conv").mask.numpy())
    np.testing.assert_array_equal(masks[0], masks[1])
    assert not np.array_equal(masks[0], masks[2])


def test_dense_layer_is_a_no_op():
    model = make_model(density=1.0)
    conv = model.get_layer("conv")
    kernel = conv.kernel.numpy()
    assert densify_layer(conv, 1.0) == 0
    fit(model, [DensifyEvery(1)], steps=2)
    assert conv.active_connections == 256
    assert not np.array_equal(conv.kernel.numpy(), kernel)  # trained, not reset


def run_resumed(tmp_path, save):
    """6 steps, then save (.keras or checkpoint) and restore into a fresh model, 9 more."""
    model = make_model()
    fit(model, [DensifyEvery(4)], steps=6)
    resumed = save(model, tmp_path)
    fit(resumed, [DensifyEvery(4)], steps=9, start=6)
    return resumed


def save_keras(model, tmp_path):
    path = str(tmp_path / "m.keras")
    model.save(path)
    return keras.saving.load_model(path)


def save_checkpoint(model, tmp_path):
    tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(str(tmp_path / "ckpt"))
    fresh = make_model(seed=99)  # another mask, seed and init: all must come back
    fit(fresh, [], steps=1)  # build the optimizer's variables
    tf.train.Checkpoint(model=fresh, optimizer=fresh.optimizer).read(
        str(tmp_path / "ckpt")).assert_consumed()
    return fresh


@pytest.mark.parametrize("save", [save_keras, save_checkpoint])
def test_resume_continues_the_schedule_exactly(tmp_path, save):
    straight = make_model()
    fit(straight, [DensifyEvery(4)], steps=15)
    resumed = run_resumed(tmp_path, save)
    a, b = straight.get_layer("conv"), resumed.get_layer("conv")
    assert int(b.densify_step.numpy()) == 15 and b.active_connections == 128
    np.testing.assert_array_equal(a.mask.numpy(), b.mask.numpy())
    np.testing.assert_allclose(a.kernel.numpy(), b.kernel.numpy(), rtol=1e-4, atol=1e-5)


def test_general_densify_with_linear_schedule_and_per_step_counts():
    model = make_model()
    recorder = Recorder()
    fit(model, [Densify(LinearSchedule(0.25, 1.0, steps=4)), recorder], steps=5)
    expected = [patterns.active_count(16, 16, 0.25 + 0.75 * min(1, t / 4)) for t in range(5)]
    assert recorder.counts == expected == [64, 112, 160, 208, 256]


def test_decreasing_schedule_is_an_error():
    model = make_model()
    with pytest.raises(ValueError, match="`schedule` must not decrease"):
        fit(model, [Densify(lambda step: 0.5 if step < 2 else 0.25)], steps=4)


def test_model_without_sparse_channel_layers_is_an_error():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="found no SparseChannelConv2D"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)), callbacks=[DensifyEvery(2)], verbose=0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`steps` must be an integer >= 1"):
        DensifyEvery(0)
    with pytest.raises(ValueError, match="`factor`"):
        DensifyEvery(10, factor=0.5)
    with pytest.raises(ValueError, match="`init_stddev`"):
        Densify(lambda step: 1.0, init_stddev=-1)
    with pytest.raises(ValueError, match="`layer` must be a built SparseChannelConv2D"):
        densify_layer(keras.layers.Conv2D(2, 3), 0.5)
    model = make_model(density=0.5)
    with pytest.raises(ValueError, match="`final_density` must be >="):
        fit(model, [DensifyEvery(2, final_density=0.25)], steps=1)

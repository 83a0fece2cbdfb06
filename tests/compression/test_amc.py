"""lre_amc (Algorithm 1), distillation and the callback on a small trained MLP."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_pe import compression
from tf_pe.compression.distill import copy_model, evaluate


def _data(n=512, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32") + 2 * (x[:, 2] > 0).astype("int32")
    return x, y


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    inp = keras.Input((8,))
    h = keras.layers.Dense(32, activation="relu", name="fc1")(inp)
    h = keras.layers.Dense(16, activation="relu", name="fc2")(h)
    model = keras.Model(inp, keras.layers.Dense(4, name="logits")(h))
    x, y = _data()
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=15, batch_size=64, verbose=0)
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    xv, yv = _data(256, 1)
    val = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(128)
    return model, train, val


@pytest.mark.parametrize("order", ["top_down", "round_robin"])
def test_lre_amc_shrinks_within_epsilon(trained, order):
    model, train, val = trained
    weights = [w.copy() for w in model.get_weights()]
    lines = []
    small, report = compression.lre_amc(model, train, val, order=order, epsilon=0.05,
                                        gamma=0.5, max_steps=5, max_epochs=1,
                                        learning_rate=1e-3,
                                        print_fn=lines.append)
    acc0 = evaluate(copy_model(model), val)
    acc1 = evaluate(small, val)
    assert report["accuracy_before"] == pytest.approx(acc0)
    assert report["accuracy_after"] == pytest.approx(acc1)
    assert acc0 - acc1 <= 0.05 + 1e-6
    assert small.count_params() < model.count_params()
    assert report["after"]["params"] == small.count_params()
    assert report["removed"]["params"] == pytest.approx(
        1 - small.count_params() / model.count_params())
    kept = [s for s in report["steps"] if s["accepted"]]
    assert kept and all(s["units_after"] < s["units_before"] for s in kept)
    assert report["layers"]["fc1"]["units_after"] == small.get_layer("fc1").units
    assert lines[0].startswith("[lre-amc]") and "done" in lines[-1]
    layers = [s["layer"] for s in report["steps"]]
    if order == "top_down":  # fc2 (penultimate) is shrunk first, then fc1
        assert layers[0] == "fc2" and layers == sorted(layers, reverse=True)
    else:  # layers alternate while both can shrink
        assert [s["layer"] for s in report["steps"][:2]] == ["fc2", "fc1"]
    for w0, w1 in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(w0, w1)


def test_epsilon_zero_keeps_accuracy(trained):
    model, train, val = trained
    _, report = compression.lre_amc(model, train, val, epsilon=0.0, max_epochs=1,
                                  max_steps=3, print_fn=None)
    assert report["accuracy_after"] >= report["accuracy_before"] - 1e-9
    assert len(report["steps"]) <= 3


def test_callback_compresses_at_epoch(trained, tmp_path):
    model, train, val = trained
    student = copy_model(model)
    student.compile(optimizer="adam",
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    callback = compression.LREAMC(train, val, at_epoch=1, filepath=str(tmp_path / "s.keras"),
                                  max_steps=2, max_epochs=1, print_fn=None)
    history = student.fit(train, epochs=3, verbose=0, callbacks=[callback])
    assert len(history.history["loss"]) == 1
    assert callback.compressed_model.count_params() < model.count_params()
    assert len(callback.report["steps"]) <= 2
    loaded = keras.saving.load_model(tmp_path / "s.keras")
    assert loaded.count_params() == callback.compressed_model.count_params()


def test_distillation_loss_formula():
    teacher_logits = np.array([[2.0, 0.0, -1.0]], "float32")
    student_logits = np.array([[0.5, 0.2, 0.1]], "float32")
    inp = keras.Input((3,))
    student = keras.Model(inp, keras.layers.Identity()(inp))
    teacher = keras.Model(inp, keras.layers.Lambda(lambda _: teacher_logits + 0 * _)(inp))
    d = compression.Distiller(student, teacher, temperature=4.0, lam=0.75)
    loss = float(d.compute_loss(x=student_logits, y=np.array([1]), y_pred=student_logits))

    def softmax(v):
        e = np.exp(v - v.max())
        return e / e.sum()

    p_t = softmax(teacher_logits[0] / 4.0)
    soft = -np.sum(p_t * np.log(softmax(student_logits[0] / 4.0)))
    hard = -np.log(softmax(student_logits[0])[1])
    assert loss == pytest.approx(0.25 * soft + 0.75 * hard, rel=1e-5)


@pytest.mark.parametrize("kwargs,match", [
    ({"epsilon": 1.5}, "`epsilon`"), ({"epsilon": -0.1}, "`epsilon`"),
    ({"order": "bottom_up"}, "`order`"), ({"gamma": 1.0}, "`gamma`"),
    ({"lam": 2.0}, "`lam`"), ({"temperature": 0.0}, "`temperature`"),
    ({"layers": ["nope"]}, "not in model"), ({"layers": ["logits"]}, "model output"),
])
def test_bad_arguments_fail_before_work(trained, kwargs, match):
    model, train, val = trained
    # a dataset that fails if read: the error must come before any work
    never = train.map(lambda x, y: (x / tf.zeros_like(x)[0, 0] * np.nan, y)).take(0)
    with pytest.raises(ValueError, match=match):
        compression.lre_amc(model, never, never, print_fn=None, **kwargs)
    if "layers" not in kwargs:
        with pytest.raises(ValueError, match=match):
            compression.LREAMC(train, val, **kwargs)

"""SET and gradual magnitude pruning on tiny models, against hand counts."""

import keras
import numpy as np
import pytest

from tf_pe.callbacks import SET, GradualMagnitudePruning
from tf_pe.layers import MaskedConv2D, MaskedDense

RNG = np.random.default_rng(1)
X = RNG.normal(size=(64, 6, 6, 2)).astype("float32")
Y = RNG.integers(0, 4, 64)


def model_at(density):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((6, 6, 2)),
        MaskedConv2D(4, 3, density=density, seed=1, activation="relu", name="conv"),
        keras.layers.Flatten(),
        MaskedDense(4, density=density, seed=2, name="fc"),
    ])
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def counts(model):
    return [int(model.get_layer(n).mask.numpy().sum()) for n in ("conv", "fc")]


def test_set_keeps_every_layer_count_and_replaces_zeta():
    model = model_at(0.3)
    start = counts(model)
    set_cb = SET(zeta=0.25, period=4)
    model.fit(X, Y, batch_size=8, epochs=1, callbacks=[set_cb], verbose=0)
    assert counts(model) == start
    assert [r["step"] for r in set_cb.history] == [4, 8]
    expected = sum(round(0.25 * n) for n in start)
    assert all(r["pruned"] == expected for r in set_cb.history)
    for name in ("conv", "fc"):
        layer = model.get_layer(name)
        assert (layer.kernel.numpy()[layer.mask.numpy() == 0] == 0).all()


def test_set_prunes_the_smallest_magnitudes():
    model = model_at(0.3)
    set_cb = SET(zeta=0.5, period=1)
    set_cb.set_model(model)
    set_cb.on_train_begin()
    fc = model.get_layer("fc")
    mask = fc.mask.numpy()
    values = np.zeros_like(mask)
    n = int(mask.sum())
    values[mask == 1] = np.arange(1, n + 1)  # ranks: the smaller half goes
    fc.kernel.assign(values)
    from tf_pe.callbacks.mask_update import MaskedKernel

    set_cb.update(1, [MaskedKernel(fc, "weight")])
    kept = fc.kernel.numpy() != 0
    assert kept.sum() == n - round(0.5 * n)
    assert values[kept].min() == round(0.5 * n) + 1


def test_gmp_follows_the_cubic_schedule_and_ends_at_the_final_density():
    model = model_at(1.0)
    gmp = GradualMagnitudePruning(final_density=0.1, end_step=6, begin_step=0, period=2)
    # s_t = 0.9 + (0 - 0.9) (1 - t / 6)^3; density = 1 - s_t.
    for t, expected in [(0, 1.0), (2, 1 - 0.9 + 0.9 * (2 / 3) ** 3), (6, 0.1), (9, 0.1)]:
        assert gmp.density_at(t) == pytest.approx(expected)
    history = model.fit(X, Y, batch_size=8, epochs=1, callbacks=[gmp], verbose=0)
    assert [r["step"] for r in gmp.history] == [2, 4, 6, 8]
    conv, fc = model.get_layer("conv"), model.get_layer("fc")
    assert counts(model) == [round(0.1 * 72), round(0.1 * 256)]
    for layer in (conv, fc):
        assert (layer.kernel.numpy()[layer.mask.numpy() == 0] == 0).all()
    assert history.history["reparam_regrown"] == [0.0]


def test_gmp_keeps_the_largest_weights():
    model = model_at(1.0)
    gmp = GradualMagnitudePruning(final_density=0.25, end_step=1, period=1)
    fc = model.get_layer("fc")
    before = np.abs(fc.kernel.numpy())
    model.optimizer.build(model.trainable_variables)
    gmp.set_model(model)
    gmp.on_train_begin()
    from tf_pe.callbacks.mask_update import MaskedKernel

    gmp.update(1, [MaskedKernel(fc, "weight")])
    kept = fc.mask.numpy() == 1
    assert kept.sum() == 64 and before[kept].min() >= before[~kept].max()


@pytest.mark.parametrize(("make", "message"), [
    (lambda: SET(zeta=0), "`zeta`"), (lambda: SET(zeta=1), "`zeta`"),
    (lambda: SET(period=0), "`period`"),
    (lambda: GradualMagnitudePruning(0, 10), "`final_density`"),
    (lambda: GradualMagnitudePruning(0.1, 0), "`end_step`"),
    (lambda: GradualMagnitudePruning(0.1, 10, begin_step=10), "`begin_step`"),
    (lambda: GradualMagnitudePruning(0.1, 10, initial_density=2), "`initial_density`"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_gmp_per_layer_final_densities():
    model = model_at(1.0)
    gmp = GradualMagnitudePruning(final_density={"conv": 0.5, "fc": 0.1}, end_step=4, period=2)
    model.fit(X, Y, batch_size=8, epochs=1, callbacks=[gmp], verbose=0)
    assert counts(model) == [36, round(0.1 * 256)]
    with pytest.raises(ValueError, match="`final_density` has no density for layers"):
        model_at(1.0).fit(X, Y, epochs=1, verbose=0, callbacks=[
            GradualMagnitudePruning(final_density={"conv": 0.5}, end_step=4)])

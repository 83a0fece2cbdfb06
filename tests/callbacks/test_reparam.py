"""DynamicSparseReparam: Algorithm 1 of Mostafa & Wang 2019 on tiny models."""

import glob

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_pe.callbacks import DynamicSparseReparam, PeriodSchedule, allocate_regrowth
from tf_pe.callbacks.mask_update import MaskedKernel, optimizer_slots
from tf_pe.layers import MaskedConv2D, MaskedDense

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 6, 6, 2)).astype("float32")
Y = RNG.integers(0, 4, 64)


def small_model(granularity="weight", seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((6, 6, 2)),
        MaskedConv2D(4, 3, density=0.3, seed=1, activation="relu", name="conv",
                     granularity=granularity),
        keras.layers.Flatten(),
        MaskedDense(4, density=0.2, seed=2, name="fc"),
    ])


def compiled(model, optimizer=None):
    model.compile(optimizer or keras.optimizers.SGD(0.05, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def active(model):
    return sum(int(np.count_nonzero(layer.mask.numpy())) for layer in model.layers
               if hasattr(layer, "mask"))


def test_allocate_regrowth_by_hand():
    assert allocate_regrowth(10, [6, 3, 1], [100, 100, 100]) == [6, 3, 1]
    # 7 * [5, 3, 2] / 10 = [3.5, 2.1, 1.4] -> floors [3, 2, 1], one left to the largest rest.
    assert allocate_regrowth(7, [5, 3, 2], [100, 100, 100]) == [4, 2, 1]
    # The first layer can take only 4 of its 8; the other 4 go to the rest by survivors.
    assert allocate_regrowth(10, [8, 1, 1], [4, 100, 100]) == [4, 3, 3]
    assert allocate_regrowth(5, [0, 0], [2, 8]) == [1, 4]  # no survivors: by capacity
    assert allocate_regrowth(50, [1, 1], [2, 3]) == [2, 3]


class CheckTotal(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.totals = []

    def on_train_batch_end(self, batch, logs=None):
        self.totals.append(active(self.model))


def test_total_nonzeros_constant_and_weights_move_across_layers():
    model = compiled(small_model())
    start = active(model)
    dsr = DynamicSparseReparam(period=1, target_prune_fraction=0.2, initial_threshold=0.05)
    check = CheckTotal()
    model.fit(X, Y, batch_size=8, epochs=2, callbacks=[dsr, check], verbose=0)
    assert len(dsr.history) == 16 and sum(r["pruned"] for r in dsr.history) > 0
    assert check.totals == [start] * 16
    assert all(r["pruned"] == r["regrown"] for r in dsr.history)
    for layer in model.layers[::2]:  # pruned and regrown weights are zero where masked
        assert (layer.kernel.numpy()[layer.mask.numpy() == 0] == 0).all()
    assert "DSR: 16 steps" in dsr.report() and "of training time" in dsr.report()


def kernels_with(model, values):
    """Sets fc's kernel to `values` on its active positions, conv's to 1."""
    conv, fc = model.get_layer("conv"), model.get_layer("fc")
    conv.kernel.assign(conv.mask.numpy())
    fc_mask = fc.mask.numpy()
    kernel = np.zeros_like(fc_mask)
    kernel[fc_mask == 1] = values
    fc.kernel.assign(kernel)
    return conv, fc


@pytest.mark.parametrize(("prune", "target", "factor"), [(2, 20, 2.0), (20, 20, 1.0),
                                                         (40, 20, 0.5)])
def test_threshold_moves_in_the_right_direction(prune, target, factor):
    model = compiled(small_model())
    dsr = DynamicSparseReparam(target_prune_count=target, initial_threshold=0.5)
    dsr.set_model(model)
    dsr.on_train_begin()
    n_fc = int(model.get_layer("fc").mask.numpy().sum())
    values = np.where(np.arange(n_fc) < prune, 0.1, 1.0)
    kernels_with(model, values)
    record = dsr.update(1, [MaskedKernel(layer, "weight") for layer in dsr._layers])
    assert record["pruned"] == prune
    assert dsr.threshold == pytest.approx(0.5 * factor)
    assert float(model.get_layer("conv").threshold.numpy()) == pytest.approx(0.5 * factor)


def test_regrowth_follows_survivors_by_hand():
    model = compiled(small_model())
    dsr = DynamicSparseReparam(target_prune_count=4, initial_threshold=0.5)
    dsr.set_model(model)
    dsr.on_train_begin()
    conv, fc = model.get_layer("conv"), model.get_layer("fc")
    n_conv, n_fc = int(conv.mask.numpy().sum()), int(fc.mask.numpy().sum())
    assert (n_conv, n_fc) == (22, 51)  # round(0.3 * 72), round(0.2 * 256)
    kernels_with(model, np.where(np.arange(n_fc) < 4, 0.1, 1.0))  # 4 pruned in fc
    record = dsr.update(1, [MaskedKernel(layer, "weight") for layer in dsr._layers])
    # K = 4, survivors [22, 47]: shares 4 * [22, 47] / 69 = [1.28, 2.72] -> [1, 3].
    assert record["per_layer_pruned"] == [0, 4]
    assert record["per_layer_regrown"] == [1, 3]
    assert int(conv.mask.numpy().sum()) == 23 and int(fc.mask.numpy().sum()) == 50


def test_regrown_weights_are_zero_and_optimizer_slots_reset():
    model = compiled(small_model(), keras.optimizers.Adam(0.01))
    model.fit(X, Y, batch_size=16, epochs=1, verbose=0)  # nonzero Adam moments
    fc = model.get_layer("fc")
    slots = optimizer_slots(model.optimizer, fc.kernel)
    assert len(slots) == 2 and all(np.abs(s.numpy()).sum() > 0 for s in slots)
    old_mask = fc.mask.numpy().copy()
    old_slots = [s.numpy().copy() for s in slots]
    dsr = DynamicSparseReparam(target_prune_fraction=0.3, initial_threshold=10.0)
    dsr.set_model(model)
    dsr.on_train_begin()
    dsr.update(5, [MaskedKernel(layer, "weight") for layer in dsr._layers])  # H = 10 prunes all
    new_mask = fc.mask.numpy()
    grown = (new_mask == 1) & (old_mask == 0)
    assert grown.sum() > 0
    assert (fc.kernel.numpy()[new_mask == 1] == 0).all()
    for slot in slots:
        assert (slot.numpy()[(new_mask != old_mask) | (old_mask == 1)] == 0).all()
    unchanged = (new_mask == 0) & (old_mask == 0)
    for slot, old in zip(slots, old_slots, strict=True):
        np.testing.assert_array_equal(slot.numpy()[unchanged], old[unchanged])


def test_channel_granularity_moves_whole_kernel_slices():
    model = compiled(small_model("channel"))
    conv = model.get_layer("conv")
    start = active(model)
    dsr = DynamicSparseReparam(period=1, target_prune_fraction=0.3, initial_threshold=0.1,
                               granularity="channel")
    model.fit(X, Y, batch_size=8, epochs=1, callbacks=[dsr], verbose=0)
    mask = conv.mask.numpy()
    assert (mask.min(axis=(0, 1)) == mask.max(axis=(0, 1))).all()
    assert abs(active(model) - start) < 9  # within one 3x3 slice
    assert sum(r["pruned"] for r in dsr.history) > 0


def test_channel_granularity_refuses_elementwise_masks():
    model = compiled(small_model("weight"))
    dsr = DynamicSparseReparam(period=1, granularity="channel")
    with pytest.raises(ValueError, match="granularity"):
        model.fit(X, Y, batch_size=32, epochs=1, callbacks=[dsr], verbose=0)


def test_nan_loss_skips_the_step_and_keeps_masks():
    model = compiled(small_model())
    dsr = DynamicSparseReparam(period=1, initial_threshold=10.0)
    dsr.set_model(model)
    dsr.on_train_begin()
    masks = [layer.mask.numpy().copy() for layer in dsr._layers]
    model.optimizer.iterations.assign(1)
    dsr.on_train_batch_end(0, {"loss": float("nan")})
    assert dsr.history[-1]["skipped"]
    for layer, mask in zip(dsr._layers, masks, strict=True):
        np.testing.assert_array_equal(layer.mask.numpy(), mask)
    assert "1 skipped" in dsr.report()


def test_save_load_and_checkpoint_resume_continue_identically(tmp_path):
    def run(model, epochs, dsr_kwargs):
        dsr = DynamicSparseReparam(period=3, target_prune_fraction=0.2, **dsr_kwargs)
        model.fit(X, Y, batch_size=8, epochs=epochs, callbacks=[dsr], verbose=0, shuffle=False)
        return dsr

    straight = compiled(small_model())
    run(straight, 2, {"initial_threshold": 0.05})

    first = compiled(small_model())
    run(first, 1, {"initial_threshold": 0.05})
    checkpoint = tf.train.Checkpoint(model=first, optimizer=first.optimizer)
    path = checkpoint.write(str(tmp_path / "ckpt"))
    first.save(str(tmp_path / "m.keras"))

    resumed = compiled(small_model(seed=9))
    resumed.optimizer.build(resumed.trainable_variables)
    tf.train.Checkpoint(model=resumed, optimizer=resumed.optimizer).read(path).assert_consumed()
    assert int(resumed.optimizer.iterations.numpy()) == 8
    run(resumed, 1, {"initial_threshold": 99.0})  # ignored: H comes from the checkpoint
    for a, b in zip(straight.weights, resumed.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)

    loaded = keras.saving.load_model(str(tmp_path / "m.keras"))
    for name in ("conv", "fc"):
        for a, b in zip(first.get_layer(name).weights, loaded.get_layer(name).weights,
                        strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(loaded.optimizer.iterations.numpy()) == 8
    run(loaded, 1, {"initial_threshold": 99.0})
    for a, b in zip(straight.get_layer("fc").weights, loaded.get_layer("fc").weights,
                    strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_mixed_float16_training_keeps_totals():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = compiled(small_model())
        start = active(model)
        dsr = DynamicSparseReparam(period=2, target_prune_fraction=0.2, initial_threshold=0.05)
        model.fit(X, Y, batch_size=8, epochs=1, callbacks=[dsr], verbose=0)
        assert active(model) == start and dsr.history and "skipped" not in dsr.history[0]
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_period_schedule_stop_step_and_tensorboard(tmp_path):
    schedule = PeriodSchedule(2, 6, steps=8)
    assert [schedule(s) for s in (0, 4, 8, 100)] == [2, 4, 6, 6]
    model = compiled(small_model())
    dsr = DynamicSparseReparam(period=schedule, stop_step=12, log_dir=str(tmp_path / "tb"),
                               record_path=str(tmp_path / "reparam.json"))
    history = model.fit(X, Y, batch_size=4, epochs=1, callbacks=[dsr], verbose=0)
    steps = [r["step"] for r in dsr.history]
    # s_0 = 0, s_{k+1} = s_k + period(s_k): 0 + 2, 2 + 3, 5 + 4, 9 + 6 (past stop_step).
    expected, s = [], 0
    while True:
        s += schedule(s)
        if s >= 12:
            break
        expected.append(s)
    assert steps == expected == [2, 5, 9]
    assert all(s < 12 for s in steps)
    assert glob.glob(str(tmp_path / "tb" / "events.out.tfevents.*"))
    assert (tmp_path / "reparam.json").exists()
    assert history.history["reparam_steps"] == [len(steps)]


def test_model_without_masked_layers_is_refused():
    model = compiled(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match="`model` has no masked layers"):
        model.fit(np.zeros((4, 3)), np.zeros(4), callbacks=[DynamicSparseReparam()], verbose=0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"period": 0}, "`period`"), ({"period": 2.5}, "`period`"),
    ({"tolerance": 0.0}, "`tolerance`"), ({"tolerance": 1.0}, "`tolerance`"),
    ({"gain": 1.0}, "`gain`"), ({"initial_threshold": 0}, "`initial_threshold`"),
    ({"target_prune_fraction": 1.5}, "`target_prune_fraction`"),
    ({"target_prune_count": 0}, "`target_prune_count`"),
    ({"target_prune_count": 5, "target_prune_fraction": 0.1}, "not both"),
    ({"stop_step": 0}, "`stop_step`"), ({"granularity": "row"}, "`granularity`"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DynamicSparseReparam(**kwargs)

"""Every tf_pe callback trains under `mixed_float16` and `mixed_bfloat16`: the
masks move, stay float32 0/1, the threshold stays float32, masked weights and
their optimizer slots (behind float16's LossScaleOptimizer) stay zero.

mixed_float16 trains in graph mode, mixed_bfloat16 eagerly (half the test time;
the layers' graph path in bfloat16 is covered by test_layers.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.distribute import cases
from tf_pe.callbacks.mask_update import optimizer_slots

MASKED = ("MaskedConv2D", "MaskedDepthwiseConv2D", "MaskedDense")
MOVED = {"DensifyEvery": ("SparseChannelConv2D",), "Densify": ("SparseChannelConv2D",),
         "DynamicSparseReparam": MASKED, "SET": MASKED, "GradualMagnitudePruning": MASKED}


@pytest.mark.parametrize("case", list(cases.CASES))
def test_short_fit_moves_masks_in_float32(policy, case, tmp_path):
    model = cases.build_model(seed=0)
    model.run_eagerly = policy == "mixed_bfloat16"
    before = cases.masks_of(model)
    history = model.fit(cases.dataset(tf), epochs=cases.EPOCHS, verbose=0,
                        callbacks=[cases.make_callback(n, str(tmp_path))
                                   for n in cases.CASES[case]])
    assert np.isfinite(history.history["loss"]).all()
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    after = cases.masks_of(model)
    for name in cases.CASES[case]:
        for layer in MOVED[name]:
            assert not np.array_equal(before[layer], after[layer]), (name, layer)
    for mask in after.values():
        assert mask.dtype == np.float32 and set(np.unique(mask)) <= {0.0, 1.0}
    for layer in MASKED:
        variables = cases.state_variables(model)[layer]
        assert variables["threshold"].dtype == "float32"
        inactive = after[layer] == 0
        assert (variables["kernel"].numpy()[inactive] == 0).all()
        slots = optimizer_slots(model.optimizer, variables["kernel"])
        assert len(slots) == 2  # Adam's moments, found through the loss scaler
        for slot in slots:
            assert (slot.numpy()[inactive] == 0).all()

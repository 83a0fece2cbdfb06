"""Accounting against hand counts. Every expected number is written out as the
arithmetic that produces it, independently of the code under test."""

import json

import keras
import numpy as np
import pytest

from tests.sparsity.fakes import FakeChannelConv, FakeMaskedDense
from tf_pe.sparsity import layer_stats, summary


def test_plain_layers_hand_counts():
    x = keras.Input((16, 16, 3))
    y = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="conv")(x)  # -> 8x8x8
    y = keras.layers.BatchNormalization(name="bn")(y)
    y = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw")(y)  # valid -> 6x6x16
    y = keras.layers.SeparableConv2D(4, 3, padding="same", name="sep")(y)  # -> 6x6x4
    y = keras.layers.Conv2DTranspose(2, 2, strides=2, name="tconv")(y)  # 6x6x4 -> 12x12x2
    y = keras.layers.Conv2D(6, 3, groups=2, use_bias=False, name="grouped")(y)  # -> 10x10x6
    y = keras.layers.MaxPooling2D(name="pool")(y)
    y = keras.layers.Reshape((25, 6))(y)
    y = keras.layers.Dense(7, name="seq_dense")(y)  # Dense over 25 positions
    model = keras.Model(x, y)
    s = summary(model, print_fn=None)

    conv = s.by_name("conv")
    assert conv.params == 3 * 3 * 3 * 8 + 8
    assert conv.macs == 8 * 8 * (3 * 3 * 3 * 8)
    bn = s.by_name("bn")
    assert (bn.params, bn.dynamic, bn.static, bn.macs) == (4 * 8, 2 * 8, 2 * 8, 0)
    dw = s.by_name("dw")
    assert dw.params == 3 * 3 * 8 * 2 + 16
    assert dw.macs == 6 * 6 * (3 * 3 * 8 * 2)
    sep = s.by_name("sep")
    assert sep.params == 3 * 3 * 16 + 16 * 4 + 4
    assert sep.macs == 6 * 6 * (3 * 3 * 16 + 16 * 4)
    tconv = s.by_name("tconv")
    assert tconv.params == 2 * 2 * 2 * 4 + 2
    assert tconv.macs == 6 * 6 * (2 * 2 * 2 * 4)
    grouped = s.by_name("grouped")
    assert grouped.params == 3 * 3 * (2 // 2) * 6
    assert grouped.macs == 10 * 10 * 6 * (3 * 3 * 1)
    dense = s.by_name("seq_dense")
    assert dense.macs == 25 * 6 * 7
    assert "pool" not in [r.name for r in s.layers]
    assert s.total.params == model.count_params()
    assert s.total.macs == sum(r.macs for r in s.layers)
    assert s.total.active == s.total.params
    assert s.total.effective_macs == s.total.macs


def test_masked_layer_counts_active_and_skips_bookkeeping():
    mask = np.zeros((4, 3), "float32")
    mask[[0, 1, 3], [0, 2, 2]] = 1.0  # 3 of 12 connections
    layer = FakeMaskedDense(3, mask_value=mask, name="masked")
    model = keras.Sequential([keras.Input((4,)), layer])
    s = summary(model, print_fn=None).by_name("masked")
    assert s.params == 4 * 3 + 3  # mask and step are not parameters
    assert s.active == 3 + 3
    assert s.dynamic == 6 and s.static == 0
    assert s.macs == 12 and s.effective_macs == 3
    assert s.density == pytest.approx(6 / 15)


def test_channel_mask_broadcasts_over_kernel():
    mask = np.array([[1, 0, 0, 1], [0, 1, 0, 0]], "float32")  # [in=2, out=4], 3 active
    model = keras.Sequential([keras.Input((5, 5, 2)),
                              FakeChannelConv(4, 3, mask, use_bias=False, name="cs")])
    s = layer_stats(model.get_layer("cs"))
    assert s.params == 3 * 3 * 2 * 4
    assert s.active == 3 * 3 * 3
    assert s.macs == 3 * 3 * (3 * 3 * 2 * 4)
    assert s.effective_macs == 3 * 3 * (3 * 3 * 3)


def test_shared_layer_counts_params_once_and_macs_per_call():
    x = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared")
    model = keras.Model(x, shared(shared(shared(x))))
    s = summary(model, print_fn=None).by_name("shared")
    assert s.params == 4 * 4 + 4
    assert s.macs == 3 * 16


def test_unknown_macs_for_subclassed_models():
    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.fc = keras.layers.Dense(3, name="fc")

        def call(self, x):
            return self.fc(x)

    net = Net()
    net(np.zeros((1, 5), "float32"))
    s = summary(net, print_fn=None)
    assert s.by_name("fc").params == 18
    assert s.by_name("fc").macs is None
    assert s.total.macs is None
    assert "?" in s.table()


def test_table_and_dict():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="fc")], name="m")
    printed = []
    s = summary(model, print_fn=printed.append)
    assert printed == [s.table()]
    assert "fc" in s.table() and "total" in s.table() and "10" in s.table()
    record = json.loads(json.dumps(s.to_dict()))
    assert record["total"]["params"] == 10 and record["layers"][0]["macs"] == 8


def test_errors():
    with pytest.raises(TypeError, match="model"):
        summary(42)
    with pytest.raises(ValueError, match="not built"):
        summary(keras.Sequential([keras.layers.Dense(2)]))
    with pytest.raises(KeyError, match="nope"):
        summary(keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)]),
                print_fn=None).by_name("nope")

"""`tf_pe.export.interpreter`: the runtime, operators, batched predict, latency."""

import importlib.util

import keras
import numpy as np
import pytest

from tf_pe.export import convert
from tf_pe.export import interpreter as runtime


@pytest.fixture(scope="module")
def content():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="relu")(inputs))
    return model, convert(model, sparse=False)[0]


def test_litert_is_used_when_installed():
    expected = "ai_edge_litert" if importlib.util.find_spec("ai_edge_litert") else "tf.lite"
    assert runtime.runtime_name() == expected


def test_operators_predict_and_latency(content):
    model, flatbuffer = content
    assert runtime.operators(flatbuffer) == ["FULLY_CONNECTED"]
    interp = runtime.make_interpreter(flatbuffer)
    for n in (5, 2):  # resizes between batches
        x = np.random.default_rng(n).normal(size=(n, 4)).astype(np.float32)
        np.testing.assert_allclose(runtime.predict(interp, x), model(x), atol=1e-6)
    interp, delegated = runtime.load(flatbuffer, np.zeros((1, 4), np.float32))
    assert delegated and runtime.runs_with_xnnpack(flatbuffer)
    times = runtime.latency_s(interp, np.zeros((1, 4), np.float32), runs=7)
    assert len(times) == 7 and min(times) > 0

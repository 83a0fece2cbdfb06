import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_pe
from tf_pe.layers import SparseChannelConv2D
from tf_pe.sparsity import patterns

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True, params=["op", "grouped", "hybrid", "fallback"])
def implementation(request, monkeypatch):
    """Runs every test on the custom op (forced), on the grouped convolution and on
    the hybrid (op forward, grouped gradients; both forced where the mask has the
    structure, masked dense elsewhere) and on the pure-TF fallback."""
    from tf_pe.ops import dispatch, loader

    if request.param in ("op", "grouped", "hybrid"):
        monkeypatch.delenv("TF_PE_PY_OPS", raising=False)
        loader.reset()
        if loader.load() is None:
            pytest.fail("the op library is not built: run `make setup`")
        dispatch.set_mode(request.param)
    else:
        monkeypatch.setenv("TF_PE_PY_OPS", "1")
        dispatch.set_mode(None)
    yield request.param
    dispatch.set_mode(None)
    loader.reset()


def op_types(layer, x_shape):
    """The op types of a traced call, inside `tf.cond` branches too."""
    graph = tf.function(layer.__call__).get_concrete_function(
        tf.TensorSpec(x_shape)).graph.as_graph_def()
    return {node.op for node in graph.node} | {
        node.op for function in graph.library.function for node in function.node_def}


def test_the_fixture_selects_the_implementation(implementation):
    for pattern in ("random", "block"):
        layer = built(pattern=pattern, density=0.5)
        types = op_types(layer, (2, 9, 9, 6))
        structured = implementation in ("grouped", "hybrid") and pattern == "block"
        assert ("TfPe>SparseChannelConv2D" in types) == (
            implementation == "op" or (structured and implementation == "hybrid"))
        # The traced mask's structure is used under a `tf.cond` on the mask.
        assert bool(types & {"If", "StatelessIf"}) == (implementation == "op" or structured)


def built(x_shape=(2, 9, 9, 6), **kwargs):
    kwargs = {"filters": 8, "kernel_size": 3, "density": 0.25, "seed": 1, **kwargs}
    layer = SparseChannelConv2D(**kwargs)
    layer.build(x_shape)
    return layer


def reference(layer, x):
    """Independent reference: tf.nn.conv2d with the masked kernel, bias, activation."""
    kernel = layer.kernel.numpy() * layer.mask.numpy()[None, None]
    y = tf.nn.conv2d(x, kernel, strides=layer.strides, padding=layer.padding.upper(),
                     dilations=layer.dilation_rate)
    return layer.activation(y + layer.bias.numpy()).numpy()


@pytest.mark.parametrize("kwargs", [
    {},
    {"strides": 2, "padding": "same", "activation": "relu"},
    {"dilation_rate": 2, "padding": "valid", "pattern": "block", "density": 0.5},
    {"kernel_size": (1, 3), "density": 1.0},
])
def test_output_equals_conv2d_with_masked_kernel(kwargs):
    layer = built(**kwargs)
    layer.bias.assign(RNG.normal(size=layer.bias.shape).astype("float32"))
    x = RNG.normal(size=(2, 9, 9, 6)).astype("float32")
    np.testing.assert_allclose(layer(x), reference(layer, x), rtol=1e-5, atol=1e-5)


def test_mask_shape_count_and_same_pattern_at_every_position():
    layer = built(x_shape=(1, 5, 5, 12), filters=20, density=0.1)
    mask = layer.mask.numpy()
    assert mask.shape == (12, 20) and not layer.mask.trainable
    assert layer.active_connections == patterns.active_count(12, 20, 0.1)
    assert layer.current_density == pytest.approx(layer.active_connections / 240)
    effective = layer.effective_kernel().numpy()
    kernel = layer.kernel.numpy()
    for i in range(12):
        for j in range(20):
            expected = kernel[:, :, i, j] if mask[i, j] else np.zeros((3, 3))
            np.testing.assert_array_equal(effective[:, :, i, j], expected)


def test_mask_is_deterministic_by_seed_and_differs_by_name():
    a = built(seed=5, name="conv_a").mask.numpy()
    np.testing.assert_array_equal(a, built(seed=5, name="conv_a").mask.numpy())
    assert not np.array_equal(a, built(seed=5, name="conv_b").mask.numpy())
    assert not np.array_equal(a, built(seed=6, name="conv_a").mask.numpy())
    keras.utils.set_random_seed(3)
    c = built(seed=None, name="conv_c").mask.numpy()
    keras.utils.set_random_seed(3)
    np.testing.assert_array_equal(c, built(seed=None, name="conv_c").mask.numpy())


def test_config_has_every_constructor_argument_and_round_trips():
    layer = built(pattern="block", strides=2, activation="relu")
    config = layer.get_config()
    conv_args = set(inspect.signature(keras.layers.Conv2D.__init__).parameters) - {
        "self", "kwargs"}
    own_args = set(inspect.signature(SparseChannelConv2D.__init__).parameters) - {
        "self", "kwargs"}
    assert conv_args | own_args <= set(config)
    assert (config["density"], config["pattern"], config["seed"]) == (0.25, "block", 1)
    clone = SparseChannelConv2D.from_config(config)
    assert clone.get_config() == config


def test_gradients_of_inactive_connections_are_zero_float64():
    layer = built(x_shape=(1, 5, 5, 4), filters=5, density=0.3, dtype="float64")
    x = tf.constant(RNG.normal(size=(1, 5, 5, 4)))
    mask = layer.mask.numpy()

    def f(kernel):
        return layer.convolution_op(x, kernel)

    theoretical, numerical = tf.test.compute_gradient(f, [tf.constant(layer.kernel.numpy())])
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-6)
    # Columns of the Jacobian are kernel entries (row-major over [kh, kw, in, out]).
    per_entry = np.abs(theoretical[0]).sum(axis=0).reshape(layer.kernel.shape)
    inactive = np.broadcast_to(mask == 0, per_entry.shape)
    assert (per_entry[inactive] == 0).all()
    assert (per_entry[~inactive] > 0).any()


@pytest.mark.parametrize("optimizer", [
    lambda: keras.optimizers.SGD(0.1, momentum=0.9),
    lambda: keras.optimizers.Adam(0.01),
    lambda: keras.optimizers.AdamW(0.01, weight_decay=0.1),
])
def test_inactive_connections_stay_off_through_optimizer_steps(optimizer):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((6, 6, 3)),
        SparseChannelConv2D(4, 3, density=0.3, seed=0, name="conv"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2),
    ])
    opt = optimizer()
    model.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    conv = model.get_layer("conv")
    inactive = np.broadcast_to(conv.mask.numpy() == 0, conv.kernel.shape)
    before = conv.kernel.numpy()
    x = RNG.normal(size=(16, 6, 6, 3)).astype("float32")
    y = RNG.integers(0, 2, size=16)
    model.fit(x, y, epochs=5, batch_size=4, verbose=0)
    after = conv.kernel.numpy()
    assert not np.allclose(after[~inactive], before[~inactive])  # it did train
    assert (conv.effective_kernel().numpy()[inactive] == 0).all()
    if opt.weight_decay:
        # Decoupled decay only shrinks inactive entries; they are irrelevant (masked).
        assert (np.abs(after[inactive]) <= np.abs(before[inactive])).all()
    else:
        np.testing.assert_array_equal(after[inactive], before[inactive])
    slots = [v.numpy() for v in opt.variables if tuple(v.shape) == tuple(conv.kernel.shape)]
    assert slots and all((s[inactive] == 0).all() for s in slots)


def test_summary_counts_active_parameters_and_macs():
    model = keras.Sequential([keras.Input((10, 10, 6)),
                              SparseChannelConv2D(8, 3, padding="same", density=0.25, seed=0,
                                                  name="conv")])
    stats = tf_pe.summary(model, print_fn=None).by_name("conv")
    active = patterns.active_count(6, 8, 0.25)  # 12 of 48 channel pairs
    assert stats.params == 3 * 3 * 6 * 8 + 8
    assert stats.active == 9 * active + 8
    assert stats.macs == 100 * 9 * 48 and stats.effective_macs == 100 * 9 * active


@pytest.mark.parametrize("use_bias", [True, False])
def test_save_and_load_keeps_mask_and_predictions(tmp_path, use_bias):
    model = keras.Sequential([keras.Input((7, 7, 3)),
                              SparseChannelConv2D(5, 3, density=0.3, name="conv",
                                                  use_bias=use_bias)])
    model.get_layer("conv").densify_step.assign(7)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = RNG.normal(size=(2, 7, 7, 3)).astype("float32")
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
    for name in ("mask", "mask_seed", "densify_step"):
        np.testing.assert_array_equal(getattr(loaded.get_layer("conv"), name).numpy(),
                                      getattr(model.get_layer("conv"), name).numpy())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"density": 0.0}, "`density` must be in"),
    ({"density": 1.01}, "`density` must be in"),
    ({"pattern": "diagonal"}, "`pattern` must be one of"),
    ({"groups": 2}, "`groups` must be 1"),
    ({"seed": -1}, "`seed` must be None or an integer"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SparseChannelConv2D(4, 3, **kwargs)


def test_zero_input_channels_is_an_error():
    with pytest.raises(ValueError, match="`input_shape` must have at least one channel"):
        SparseChannelConv2D(4, 3).build((None, 5, 5, 0))


def dense_net():
    x = keras.Input((8, 8, 3))
    y = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(x)
    y = keras.layers.DepthwiseConv2D(3, name="dw")(y)
    y = keras.layers.Conv2D(4, 1, name="c2")(y)
    y = keras.layers.GlobalAveragePooling2D()(y)
    return keras.Model(x, keras.layers.Dense(3, name="fc")(y))


def test_sparsify_channel_keeps_predictions_at_density_one():
    model = dense_net()
    x = RNG.normal(size=(4, 8, 8, 3)).astype("float32")
    sparse = tf_pe.sparsify(model, method="channel", density=1.0)
    kinds = {layer.name: type(layer) for layer in sparse.layers}
    assert kinds["c1"] is SparseChannelConv2D and kinds["c2"] is SparseChannelConv2D
    assert kinds["dw"] is keras.layers.DepthwiseConv2D  # not a plain Conv2D
    np.testing.assert_allclose(sparse(x), model(x), rtol=1e-5, atol=1e-6)


def test_sparsify_channel_masks_the_copied_weights():
    model = dense_net()
    sparse = tf_pe.sparsify(model, method="channel", density=0.5, exclude=["c2"],
                            pattern="block")
    c1 = sparse.get_layer("c1")
    assert type(sparse.get_layer("c2")) is keras.layers.Conv2D
    assert c1.pattern == "block" and c1.current_density < 1
    np.testing.assert_array_equal(c1.kernel.numpy(), model.get_layer("c1").kernel.numpy())
    x = RNG.normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(c1(x), reference(c1, x), rtol=1e-5, atol=1e-5)


def auto_dispatch(monkeypatch, entries, default=(0.0, 0)):
    """`auto` mode on a machine without a GPU, under a known rule: every class
    `(max_density, min_in_channels) = default`, except `entries`
    (`{(implementation, class): (max_density, min_in_channels)}`)."""
    from tf_pe.ops import dispatch

    def entry(limits):
        return {"max_density": limits[0], "min_in_channels": limits[1]}

    rule = {name: {key: entry(entries.get((name, key), default)) for key in table}
            for name, table in dispatch.RULE.items()}
    monkeypatch.setattr(dispatch, "RULE", rule)
    monkeypatch.setattr(dispatch, "_gpu_visible", lambda: False)
    dispatch.set_mode("auto")
    return dispatch


def test_auto_dispatch_follows_the_measured_rule(implementation, monkeypatch):
    dispatch = auto_dispatch(monkeypatch, {("op", "block/kxk"): (0.25, 32)})

    def has_cond(layer, x_shape):
        return bool(op_types(layer, x_shape) & {"If", "StatelessIf"})

    wide = built(x_shape=(2, 9, 9, 40), filters=40, pattern="block")
    narrow = built(x_shape=(2, 9, 9, 16), filters=40, pattern="block")
    pointwise = built(x_shape=(2, 9, 9, 40), filters=40, pattern="block", kernel_size=1)
    assert has_cond(wide, (2, 9, 9, 40)) == (implementation != "fallback")
    assert not has_cond(narrow, (2, 9, 9, 16))
    assert not has_cond(pointwise, (2, 9, 9, 40))
    x = RNG.normal(size=(2, 9, 9, 40)).astype("float32")
    np.testing.assert_allclose(wide(x), reference(wide, x), rtol=1e-4, atol=1e-4)
    monkeypatch.setattr(dispatch, "_gpu_visible", lambda: True)
    assert not has_cond(wide, (2, 9, 9, 40))


def test_auto_runs_a_block_layer_grouped_until_its_mask_changes(implementation, monkeypatch):
    auto_dispatch(monkeypatch, {("grouped", "block/kxk"): (0.5, 8)})
    layer = built(x_shape=(2, 9, 9, 12), filters=10, pattern="block", density=0.25)
    assert bool(op_types(layer, (2, 9, 9, 12)) & {"If", "StatelessIf"}) == (
        implementation != "fallback")
    fn = tf.function(layer.__call__).get_concrete_function(tf.TensorSpec((2, 9, 9, 12)))
    x = RNG.normal(size=(2, 9, 9, 12)).astype("float32")
    np.testing.assert_allclose(fn(x), reference(layer, x), rtol=1e-4, atol=1e-4)
    # A densified mask no longer has the traced structure: the same trace falls back.
    mask = layer.mask.numpy()
    mask[:, 0] = 1.0
    layer.mask.assign(mask)
    np.testing.assert_allclose(fn(x), reference(layer, x), rtol=1e-4, atol=1e-4)


def test_auto_runs_the_first_preferred_implementation_whose_rule_selects(implementation,
                                                                          monkeypatch):
    from tf_pe import ops

    dispatch = auto_dispatch(monkeypatch, {}, default=(0.5, 8))
    layer = built(x_shape=(2, 9, 9, 12), filters=10, pattern="block", density=0.25)
    calls = []

    def spy(name, original):
        def wrapper(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)
        return wrapper

    for name, function in (("op", "compact_conv2d"), ("grouped", "grouped_conv2d"),
                           ("hybrid", "hybrid_conv2d")):
        monkeypatch.setattr(ops, function, spy(name, getattr(ops, function)))
    eligible = implementation != "fallback"
    for order in (("op", "grouped", "hybrid"), ("grouped", "hybrid", "op"),
                  ("hybrid", "op", "grouped")):
        monkeypatch.setitem(dispatch.PREFER, "block/kxk", ((1.0, order),))
        calls.clear()
        op_types(layer, (2, 9, 9, 12))
        assert calls == ([order[0]] if eligible else [])
    # A rule that does not reach the layer's density passes to the next one.
    dispatch.RULE["hybrid"]["block/kxk"] = {"max_density": 0.1, "min_in_channels": 8}
    calls.clear()
    op_types(layer, (2, 9, 9, 12))
    assert calls == (["op"] if eligible else [])

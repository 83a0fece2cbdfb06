"""Contract tests for every builder, and tests for tf_pe.models._common."""

import functools
import inspect

import keras
import pytest

from tf_pe import models
from tf_pe.models import _common

# Builder name -> small input shape that every builder accepts (fast to build).
SMALL_INPUTS = {
    "changpinyo_cifar": (16, 16, 3),
    "changpinyo_mnist": (28, 28, 1),
    "lenet5": (28, 28, 1),
    "lenet_300_100": (28, 28, 1),
    "mlp": (28, 28, 1),
    "resnet50": (32, 32, 3),
    "vgg16n": (32, 32, 3),
    "wrn": (8, 8, 3),
    "wrn_16_2": (8, 8, 3),
    "wrn_28_2": (8, 8, 3),
}
CONV_NETS = sorted(set(SMALL_INPUTS) - {"lenet_300_100", "mlp"})
COMMON_ARGS = ["input_shape", "num_classes", "depth_multiplier", "conv_layer", "dense_layer"]


def test_small_inputs_cover_the_registry():
    assert sorted(SMALL_INPUTS) == models.available()


@pytest.mark.parametrize(
    "builder",
    [
        models.lenet_300_100,
        models.mlp,
        models.lenet5,
        models.changpinyo_mnist,
        models.changpinyo_cifar,
        models.wrn,
        models.vgg16n,
        models.resnet50,
    ],
)
def test_uniform_signature(builder):
    params = list(inspect.signature(builder).parameters.values())
    assert [p.name for p in params[:6]] == [*COMMON_ARGS, "name"]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params[:6])
    assert all(p.kind is p.KEYWORD_ONLY for p in params[6:])
    assert params[2].default == 1.0
    assert params[3].default is None
    assert params[4].default is None


@pytest.mark.parametrize("name", sorted(SMALL_INPUTS))
def test_every_conv_and_dense_goes_through_the_factories(name, recorder):
    model = models.get(
        name,
        input_shape=SMALL_INPUTS[name],
        num_classes=7,
        conv_layer=recorder.conv,
        dense_layer=recorder.dense,
    )
    convs = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    denses = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert sorted(recorder.names("conv")) == sorted(convs)
    assert sorted(recorder.names("dense")) == sorted(denses)
    names = recorder.names()
    assert len(names) == len(set(names)), "factory names must be unique"
    assert all(name and not name.startswith(("conv2d", "dense")) for name in names)
    # The output layer is the logits layer, linear, made by the dense factory.
    assert model.layers[-1].name == "logits"
    assert recorder.calls[-1][:3] == ("dense", "logits", 7)
    assert model.layers[-1].activation is keras.activations.linear
    assert model.output_shape == (None, 7)


@pytest.mark.parametrize("name", sorted(SMALL_INPUTS))
def test_depth_multiplier_keeps_input_and_output(name, recorder):
    full = models.get(name, input_shape=SMALL_INPUTS[name], num_classes=5)
    small = models.get(
        name,
        input_shape=SMALL_INPUTS[name],
        num_classes=5,
        depth_multiplier=0.25,
        conv_layer=recorder.conv,
        dense_layer=recorder.dense,
    )
    assert small.input_shape == full.input_shape
    assert small.output_shape == full.output_shape == (None, 5)
    assert small.count_params() < full.count_params()
    # Every hidden width is halved (rounded up); the logits keep num_classes.
    for kind, layer_name, width, _ in recorder.calls:
        full_width = full.get_layer(layer_name)
        full_width = full_width.filters if kind == "conv" else full_width.units
        expected = 5 if layer_name == "logits" else -(-full_width // 2)
        assert width == expected, layer_name


def test_factory_with_extra_arguments_and_per_layer_choice():
    class DensityConv2D(keras.layers.Conv2D):
        """Stands in for a sparse Conv2D subclass with an extra argument."""

        def __init__(self, filters, kernel_size, density=1.0, **kwargs):
            super().__init__(filters, kernel_size, **kwargs)
            self.density = density

    sparse = functools.partial(DensityConv2D, density=0.1)

    def keep_first_dense(filters, kernel_size, **kwargs):
        if kwargs["name"] == "conv1":
            return keras.layers.Conv2D(filters, kernel_size, **kwargs)
        return sparse(filters, kernel_size, **kwargs)

    model = models.lenet5(conv_layer=keep_first_dense)
    assert type(model.get_layer("conv1")) is keras.layers.Conv2D
    assert isinstance(model.get_layer("conv2"), DensityConv2D)
    assert model.get_layer("conv2").density == 0.1


@pytest.mark.parametrize("name", sorted(SMALL_INPUTS))
@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"num_classes": 1}, "num_classes"),
        ({"num_classes": 2.0}, "num_classes"),
        ({"depth_multiplier": 0.0}, "depth_multiplier"),
        ({"depth_multiplier": -1}, "depth_multiplier"),
        ({"conv_layer": "conv"}, "conv_layer"),
        ({"dense_layer": 3}, "dense_layer"),
        ({"input_shape": (28, 0, 1)}, "input_shape"),
        ({"input_shape": "28x28"}, "input_shape"),
    ],
)
def test_invalid_common_arguments(name, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        models.get(name, **kwargs)


@pytest.mark.parametrize("name", CONV_NETS)
def test_conv_nets_require_rank_3(name):
    with pytest.raises(ValueError, match="input_shape"):
        models.get(name, input_shape=(28, 28))


def test_check_input_shape():
    assert _common.check_input_shape([28, 28, 1], rank=3) == (28, 28, 1)
    assert _common.check_input_shape((784,)) == (784,)
    with pytest.raises(ValueError, match="input_shape"):
        _common.check_input_shape(())
    with pytest.raises(ValueError, match=r"input_shape.*>= 12"):
        _common.check_input_shape((11, 28, 1), rank=3, min_spatial=12)
    with pytest.raises(ValueError, match="input_shape"):
        _common.check_input_shape((None, 28, 1), rank=3)


def test_scalar_checks():
    assert _common.check_int(3, "depth", 1) == 3
    with pytest.raises(ValueError, match="depth"):
        _common.check_int(True, "depth", 0)
    assert _common.check_fraction(0.3, "dropout") == 0.3
    for bad in (1.0, -0.1, float("nan"), "0.1"):
        with pytest.raises(ValueError, match="dropout"):
            _common.check_fraction(bad, "dropout")
    for bad in (-1e-4, float("inf"), None):
        with pytest.raises(ValueError, match="weight_decay"):
            _common.check_weight_decay(bad)


def test_regularizer_kwargs():
    assert _common.regularizer_kwargs(0.0) == {}
    first = _common.regularizer_kwargs(1e-4)["kernel_regularizer"]
    second = _common.regularizer_kwargs(1e-4)["kernel_regularizer"]
    assert isinstance(first, keras.regularizers.L2)
    assert first is not second  # no object shared between layers
    assert first.get_config()["l2"] == pytest.approx(1e-4)


def test_resolve_factories_defaults():
    assert _common.resolve_factories(None, None) == (keras.layers.Conv2D, keras.layers.Dense)

import dataclasses

import pytest

from tf_pe.training import TrainConfig


def test_defaults_are_valid_and_serializable():
    config = TrainConfig()
    assert config.to_dict()["model"] == "lenet5"
    assert set(config.to_dict()) == {f.name for f in dataclasses.fields(TrainConfig)}


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"density": 0.0}, "density"),
        ({"density": 1.5}, "density"),
        ({"density": -0.1}, "density"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 1.5}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"take": 0}, "take"),
        ({"eval_take": -3}, "eval_take"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"momentum": 1.0}, "momentum"),
        ({"depth_multiplier": 0.0}, "depth_multiplier"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"lr_schedule": "cyclic"}, "lr_schedule"),
        ({"out": ""}, "out"),
    ],
)
def test_bad_values_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        TrainConfig(**kwargs)


def test_density_one_is_allowed():
    assert TrainConfig(density=1.0).density == 1.0

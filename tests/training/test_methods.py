import pytest

from tf_pe.training import TrainConfig, available_methods, get_method
from tf_pe.training.methods import check_options


def test_all_methods_are_registered():
    assert set(available_methods()) >= {"dense", "channel", "dsr", "static", "set", "gmp"}


@pytest.mark.parametrize(
    ("method", "kwargs", "message"),
    [
        ("dense", {"density": 0.5}, "`density`=0.5 has no effect with method 'dense'"),
        ("dense", {"pattern": "block"}, "methods that use it: channel"),
        ("channel", {"reparam_period": 50}, "methods that use it: dsr, gmp, set"),
        ("static", {"densify_every": 10}, "`densify_every`=10 has no effect"),
        ("dsr", {"prune_end": 0.5}, "methods that use it: gmp"),
        ("gmp", {"initial_threshold": 0.1}, "methods that use it: dsr"),
    ],
)
def test_ignored_settings_are_refused(method, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_options(get_method(method), TrainConfig(method=method, **kwargs))


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("dense", {"depth_multiplier": 0.5}),
        ("channel", {"density": 0.1, "pattern": "block", "densify_every": 10}),
        ("dsr", {"density": 0.1, "reparam_period": 50, "prune_fraction": 0.1}),
        ("gmp", {"density": 0.1, "prune_end": 0.5}),
    ],
)
def test_settings_a_method_reads_are_accepted(method, kwargs):
    check_options(get_method(method), TrainConfig(method=method, **kwargs))

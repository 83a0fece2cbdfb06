import keras
import pytest

from tf_pe.callbacks import schedules
from tf_pe.callbacks.schedules import (
    CallableSchedule,
    DensificationSchedule,
    DoublingSchedule,
    LinearSchedule,
)


def test_doubling_by_hand():
    s = DoublingSchedule(0.01, every=100)
    assert [s(t) for t in (0, 99, 100, 199, 200, 300)] == [0.01, 0.01, 0.02, 0.02, 0.04, 0.08]
    assert s(700) == 1.0 and s(10**9) == 1.0  # 0.01 * 2**7 = 1.28, capped
    assert DoublingSchedule(0.1, 10, factor=3, final_density=0.5)(20) == 0.5  # 0.9 capped


def test_linear_by_hand():
    s = LinearSchedule(0.2, 1.0, steps=100, every=10)
    assert s(0) == 0.2 and s(9) == 0.2
    assert s(10) == pytest.approx(0.28) and s(55) == pytest.approx(0.6)
    assert s(100) == 1.0 and s(5000) == 1.0


def double_after_5(step):
    return 0.25 if step < 5 else 0.5


def test_callable_wraps_and_checks_values():
    s = schedules.get(double_after_5)
    assert isinstance(s, CallableSchedule) and s(4) == 0.25 and s(5) == 0.5
    with pytest.raises(ValueError, match=r"`schedule\(step\)` must be in"):
        CallableSchedule(lambda step: 1.5)(0)
    with pytest.raises(ValueError, match="`fn` must be callable"):
        CallableSchedule(3)
    with pytest.raises(ValueError, match="`schedule` must be a DensificationSchedule"):
        schedules.get("doubling")


@pytest.mark.parametrize("schedule", [
    DoublingSchedule(0.05, every=7, factor=1.5, final_density=0.9),
    LinearSchedule(0.1, 0.8, steps=30, every=3),
])
def test_config_round_trips(schedule):
    config = schedule.get_config()
    clone = type(schedule).from_config(config)
    assert clone.get_config() == config
    assert [clone(t) for t in range(0, 100, 7)] == [schedule(t) for t in range(0, 100, 7)]
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert type(restored) is type(schedule) and restored.get_config() == config


def test_callable_config_round_trips_for_registered_functions():
    fn = keras.saving.register_keras_serializable(package="tests")(double_after_5)
    clone = CallableSchedule.from_config(CallableSchedule(fn).get_config())
    assert clone(7) == 0.5


@pytest.mark.parametrize(("make", "message"), [
    (lambda: DoublingSchedule(0.0, 10), "`initial_density`"),
    (lambda: DoublingSchedule(0.1, 0), "`every` must be an integer >= 1"),
    (lambda: DoublingSchedule(0.1, 10, factor=1.0), "`factor` must be a number > 1"),
    (lambda: DoublingSchedule(0.5, 10, final_density=0.2), "`final_density` must be >="),
    (lambda: LinearSchedule(0.5, 0.2), "`final_density` must be >="),
    (lambda: LinearSchedule(0.1, 1.0, steps=0), "`steps`"),
    (lambda: LinearSchedule(0.1, 1.2), "`final_density` must be in"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_base_class_is_abstract():
    with pytest.raises(NotImplementedError):
        DensificationSchedule()(0)

import keras
import pytest

from tf_pe.training import TrainConfig
from tf_pe.training.optim import learning_rate, make_optimizer


def test_cosine_decays_to_zero_over_the_run():
    schedule = learning_rate(TrainConfig(learning_rate=0.1, lr_schedule="cosine"), 100)
    assert float(schedule(0)) == pytest.approx(0.1)
    assert float(schedule(50)) == pytest.approx(0.05, rel=1e-5)
    assert float(schedule(100)) == pytest.approx(0.0, abs=1e-7)


def test_step_schedule_drops_tenfold_at_half_and_three_quarters():
    schedule = learning_rate(TrainConfig(learning_rate=1.0, lr_schedule="step"), 100)
    assert [float(schedule(s)) for s in (0, 50, 51, 76)] == pytest.approx(
        [1.0, 1.0, 0.1, 0.01])


def test_constant():
    assert learning_rate(TrainConfig(learning_rate=0.3, lr_schedule="constant"), 10) == 0.3


@pytest.mark.parametrize(("name", "cls"), [("adam", keras.optimizers.Adam),
                                           ("adamw", keras.optimizers.AdamW),
                                           ("sgd", keras.optimizers.SGD),
                                           ("rmsprop", keras.optimizers.RMSprop)])
def test_optimizers(name, cls):
    opt = make_optimizer(TrainConfig(optimizer=name, weight_decay=1e-4), 10)
    assert type(opt) is cls
    assert opt.weight_decay == pytest.approx(1e-4)

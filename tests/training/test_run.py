"""`tf_pe.training.train`: the files a run leaves, and resuming an interrupted run."""

import json

import keras
import pytest

from tf_pe._registry import Registry
from tf_pe.training import Method, TrainConfig, methods, train


class Interrupt(keras.callbacks.Callback):
    """Stops the process (as a kill would) at the end of epoch `at`, once."""

    fired = False

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at and not Interrupt.fired:
            Interrupt.fired = True
            raise KeyboardInterrupt


@pytest.fixture
def interrupting_method(monkeypatch):
    fresh = Registry("method")
    for name in methods.available_methods():
        fresh.register(name, methods.get_method(name))
    monkeypatch.setattr(methods, "_METHODS", fresh)

    def build(config, input_shape, num_classes):
        model, callbacks = methods.get_method("dense").build(config, input_shape, num_classes)
        return model, [*callbacks, Interrupt(at=1)]

    methods.register_method(Method("interrupted", "test", build))


def test_interrupted_run_resumes_where_it_stopped(tmp_path, fashion_data_dir,
                                                  interrupting_method):
    config = TrainConfig(method="interrupted", epochs=3, take=256, eval_take=128,
                         batch_size=64, data_dir=fashion_data_dir, out=str(tmp_path / "run"))
    with pytest.raises(KeyboardInterrupt):
        train(config, verbose=0, print_fn=None)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "failed" and "KeyboardInterrupt" in record["error"]
    assert (tmp_path / "run" / "backup").is_dir()

    record = train(config, verbose=0, print_fn=None)
    assert record["status"] == "done"
    # The backup callback comes first in the list (it restores before the method's
    # callbacks read the state), so epoch 1 was backed up before the interruption at
    # its end: only epoch 2 runs again.
    assert len(record["timings"]["epoch_s"]) == 1
    assert len(record["metrics"]["history"]["loss"]) == 1
    assert not (tmp_path / "run" / "backup").exists()
    assert json.loads((tmp_path / "run" / "run.json").read_text()) == record


def test_dense_method_rejects_density(tmp_path):
    with pytest.raises(ValueError, match="has no effect with method 'dense'"):
        train(TrainConfig(density=0.5, out=str(tmp_path)), print_fn=None)

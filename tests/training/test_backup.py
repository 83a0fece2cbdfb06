"""The training backup: the last completely written save is restored, a damaged
one falls back to its copy, and what cannot be restored is a clear error."""

import json
import os

import keras
import numpy as np
import pytest

from tf_pe.training.backup import (
    METADATA_NAME,
    PREVIOUS_SUFFIX,
    WEIGHTS_NAME,
    Backup,
    restore_point,
)


def _model(units=3):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(units)(inputs))
    model.compile("sgd", "mse")
    return model


def _save(directory, epoch, suffix=""):
    """Writes a (weights, epoch count) pair as BackupAndRestore does; the kernel
    holds the epoch count so that the test can tell the saves apart."""
    model = _model()
    model.layers[1].kernel.assign(np.full((4, 3), epoch, "float32"))
    written = os.path.join(directory, "written.weights.h5")  # Keras wants this suffix
    model.save_weights(written)
    os.replace(written, os.path.join(directory, WEIGHTS_NAME + suffix))
    with open(os.path.join(directory, METADATA_NAME + suffix), "w") as f:
        json.dump({"epoch": epoch, "batch": 0}, f)


@pytest.fixture
def backup(tmp_path):
    _save(tmp_path, 2, PREVIOUS_SUFFIX)
    _save(tmp_path, 3)
    return tmp_path


def _kernel_of(directory):
    model = _model()
    model.load_weights(os.path.join(directory, WEIGHTS_NAME))
    return float(model.layers[1].kernel.numpy()[0, 0])


def test_no_backup_is_epoch_zero(tmp_path):
    assert restore_point(str(tmp_path / "none")) == 0


def test_complete_latest_save_is_used(backup):
    assert restore_point(str(backup)) == 3
    assert _kernel_of(backup) == 3


def _truncate(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])


def _stale_metadata(directory):
    later = os.path.getmtime(os.path.join(directory, METADATA_NAME)) + 5
    os.utime(os.path.join(directory, WEIGHTS_NAME), (later, later))


@pytest.mark.parametrize("damage", [
    lambda d: _truncate(os.path.join(d, WEIGHTS_NAME)),  # killed while writing the weights
    _stale_metadata,  # killed between the weights and the epoch count
    lambda d: _truncate(os.path.join(d, METADATA_NAME)),  # killed writing the epoch count
    lambda d: os.remove(os.path.join(d, METADATA_NAME)),
])
def test_damaged_latest_save_falls_back_to_the_copy(backup, damage):
    damage(str(backup))
    assert restore_point(str(backup)) == 2
    assert _kernel_of(backup) == 2
    assert restore_point(str(backup)) == 2  # the copy is now the latest, complete save


def test_no_complete_save_names_the_directory(backup):
    _truncate(os.path.join(backup, WEIGHTS_NAME))
    _truncate(os.path.join(backup, WEIGHTS_NAME + PREVIOUS_SUFFIX))
    with pytest.raises(ValueError, match=f"backup in '{backup}'.*delete that directory"):
        restore_point(str(backup))


def test_backup_of_another_model_names_the_directory(backup):
    model = _model(units=5)
    with pytest.raises(ValueError, match=f"backup in '{backup}' cannot be restored"):
        model.fit(np.zeros((4, 4)), np.zeros((4, 5)), epochs=4, verbose=0,
                  callbacks=[Backup(str(backup))])

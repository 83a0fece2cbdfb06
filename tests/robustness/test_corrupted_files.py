"""Corrupted or missing model files and checkpoints give clear errors (never a
silently wrong model). Resume from a damaged training backup is in
tests/training/test_backup.py."""

import zipfile

import keras
import pytest
import tensorflow as tf

import tf_pe
from tf_pe import cli


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved")
    model = tf_pe.sparsify(tf_pe.models.lenet_300_100(), method="masked", density=0.1)
    model.save(root / "model.keras")
    return root, model


def _truncated_zip(src, dst):
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])


def _truncated_weights(src, dst):
    with zipfile.ZipFile(src) as archive, zipfile.ZipFile(dst, "w") as out:
        for name in archive.namelist():
            data = archive.read(name)
            out.writestr(name, data[: len(data) // 2] if name.endswith(".h5") else data)


@pytest.mark.parametrize(("damage", "error", "message"), [
    (None, ValueError, "File not found: filepath=.*missing.keras"),
    (_truncated_zip, ValueError, "damaged.keras"),  # Keras: "File not found ... zip file"
    (_truncated_weights, OSError, "truncated file"),
])
def test_damaged_keras_file_raises_and_the_cli_names_it(saved, damage, error, message, capsys):
    root, _ = saved
    path = root / ("missing.keras" if damage is None else "damaged.keras")
    if damage is not None:
        damage(root / "model.keras", path)
    with pytest.raises(error, match=message):
        keras.saving.load_model(path)
    assert cli.main(["tf-pe", "summary", str(path)]) == 2
    err = capsys.readouterr().err
    assert "error" in err and f"'{path}'" in err


def test_damaged_tf_checkpoint_raises(tmp_path, saved):
    """TensorFlow's own errors: a truncated data file raises (IndexError "Read
    less bytes than requested" in TF 2.21, no OpError) and a missing index a
    NotFoundError; neither restores anything silently."""
    _, model = saved
    prefix = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    data_file = next(tmp_path.glob("ckpt.data-*"))
    data_file.write_bytes(data_file.read_bytes()[:100])
    fresh = tf_pe.sparsify(tf_pe.models.lenet_300_100(), method="masked", density=0.1)
    with pytest.raises((tf.errors.OpError, IndexError)):
        tf.train.Checkpoint(model=fresh).read(prefix).assert_consumed()
    (tmp_path / "ckpt.index").unlink()
    with pytest.raises(tf.errors.NotFoundError):
        tf.train.Checkpoint(model=fresh).read(prefix)

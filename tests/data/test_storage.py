"""Resolution of the tfds data_dir."""

import os
import pathlib

import pytest

from tf_pe.data.storage import resolve_data_dir


def test_explicit_data_dir_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("TFDS_DATA_DIR", "/somewhere/else")
    assert resolve_data_dir(tmp_path) == str(tmp_path)
    assert resolve_data_dir(str(tmp_path)) == str(tmp_path)


def test_env_var_is_read_at_call_time(monkeypatch, tmp_path):
    # tfds itself reads TFDS_DATA_DIR only once, at import.
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "a"))
    assert resolve_data_dir(None) == str(tmp_path / "a")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "b"))
    assert resolve_data_dir(None) == str(tmp_path / "b")


def test_default_is_home_tensorflow_datasets(monkeypatch):
    monkeypatch.delenv("TFDS_DATA_DIR")
    expected = os.path.join(pathlib.Path.home(), "tensorflow_datasets")
    assert resolve_data_dir(None) == expected


@pytest.mark.parametrize("bad", [3, "", b"/tmp"])
def test_bad_data_dir(bad):
    with pytest.raises(ValueError, match="data_dir"):
        resolve_data_dir(bad)

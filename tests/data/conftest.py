"""Fixtures for tf_pe.data tests."""

import pytest

from tf_pe.data import fashion_mnist_local


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch, tmp_path):
    """Keeps every test away from the user's ~/tensorflow_datasets and env overrides."""
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "default_tfds_data_dir"))
    monkeypatch.delenv(fashion_mnist_local.FILES_DIR_ENV, raising=False)

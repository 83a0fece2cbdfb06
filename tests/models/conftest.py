"""Shared fixtures for the model-zoo tests."""

import pytest

from tests.models.helpers import RecordingFactories


@pytest.fixture
def recorder():
    """A fresh pair of recording conv/dense factories."""
    return RecordingFactories()

"""The JSON record of a run: configuration, metrics, timings, versions."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from importlib import metadata

import keras

RECORD_NAME = "run.json"


def versions() -> dict[str, str]:
    """Returns the versions of Python, the platform and the libraries a run used."""
    found = {"python": sys.version.split()[0], "platform": platform.platform(),
             "cpus": str(os.cpu_count())}
    for dist in ("tf-pe", "tensorflow", "keras", "tensorflow-datasets", "numpy", "absl-py"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def write_json(path: str, data: dict) -> None:
    """Writes `data` to `path` atomically (a crash never leaves half a file)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class EpochTimer(keras.callbacks.Callback):
    """Records the wall-clock seconds of every epoch in `seconds`."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)

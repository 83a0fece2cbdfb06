"""The training backup a run resumes from after it was killed.

`keras.callbacks.BackupAndRestore` writes, at the end of every epoch, the
weights (masks, thresholds, schedule steps and optimizer state included: they
all live in variables) to `latest.weights.h5` and the number of epochs done to
`training_metadata.json`; with `double_checkpoint=True` it first copies both to
`*.bkp`. A process killed while it writes leaves one of the two files cut short,
or new weights beside the old epoch count. `restore_point` finds the pair that
was written completely (the latest, else the copies), so that the weights and
the epoch count always come from the same save; `Backup` loads it and turns any
remaining failure into an error that names the backup directory.
"""

from __future__ import annotations

import json
import os
import shutil

import h5py
import keras

WEIGHTS_NAME = "latest.weights.h5"
METADATA_NAME = "training_metadata.json"
PREVIOUS_SUFFIX = ".bkp"


def _epoch(weights_path: str, metadata_path: str) -> int | None:
    """The epoch count of a complete (weights, metadata) pair, or None."""
    try:
        if os.path.getmtime(weights_path) > os.path.getmtime(metadata_path):
            return None  # killed after writing the weights, before the epoch count
        with open(metadata_path) as f:
            epoch = json.load(f)["epoch"]
        with h5py.File(weights_path, "r") as f:
            f.visit(lambda name: None)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        return None
    return epoch


def restore_point(backup_dir: str) -> int:
    """Returns the number of epochs the backup in `backup_dir` has done (0 when
    there is none), after putting the last completely written save in place.

    Raises:
        ValueError: naming `backup_dir` when it holds files but no complete save.
    """
    weights = os.path.join(backup_dir, WEIGHTS_NAME)
    metadata = os.path.join(backup_dir, METADATA_NAME)
    if not os.path.exists(weights) and not os.path.exists(metadata):
        return 0
    epoch = _epoch(weights, metadata)
    if epoch is not None:
        return epoch
    previous = _epoch(weights + PREVIOUS_SUFFIX, metadata + PREVIOUS_SUFFIX)
    if previous is None:
        raise ValueError(
            f"The training backup in {backup_dir!r} is incomplete or corrupted (the "
            "process was probably killed while writing it) and holds no earlier copy; "
            "delete that directory to start the run over.")
    shutil.copyfile(weights + PREVIOUS_SUFFIX, weights)
    shutil.copyfile(metadata + PREVIOUS_SUFFIX, metadata)
    return previous


class Backup(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` with two copies, and errors that name
    the backup: a backup that does not fit the model (another run's, or files
    damaged after `restore_point` checked them) raises a `ValueError` that says
    which directory to delete.

    Args:
        backup_dir: the directory of the backup.
    """

    def __init__(self, backup_dir: str):
        super().__init__(backup_dir, double_checkpoint=True)

    def on_train_begin(self, logs=None):
        try:
            super().on_train_begin(logs)
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(
                f"The training backup in {self.backup_dir!r} cannot be restored into this "
                f"model ({type(e).__name__}: {e}); it may come from another run or be "
                "damaged: delete that directory to start the run over.") from e

"""Where tfds keeps prepared datasets (the tfds `data_dir`)."""

from __future__ import annotations

import os

TFDS_DATA_DIR_ENV = "TFDS_DATA_DIR"
"""The environment variable tfds reads for its default data directory."""


def resolve_data_dir(data_dir: str | os.PathLike | None) -> str:
    """Returns the tfds data directory to read from and prepare into.

    tfds computes its default data directory once, when `tensorflow_datasets` is
    imported (`tfds.core.constants.DATA_DIR`), so a `TFDS_DATA_DIR` set later in the
    process would be ignored if `data_dir=None` were passed through to tfds. This
    function reads the variable at call time instead.

    Args:
        data_dir: A directory given by the user, or `None` for the default:
            `$TFDS_DATA_DIR` when set and non-empty, else `~/tensorflow_datasets`
            (the same default as tfds).

    Returns:
        The directory as a string, with `~` expanded.

    Raises:
        ValueError: If `data_dir` is neither `None` nor a path.
    """
    if data_dir is None:
        data_dir = os.environ.get(TFDS_DATA_DIR_ENV) or os.path.join("~", "tensorflow_datasets")
    elif not isinstance(data_dir, str | os.PathLike):
        raise ValueError(
            f"`data_dir` must be a path (str or os.PathLike) or None; got {data_dir!r}."
        )
    data_dir = os.fspath(data_dir)
    if not data_dir:
        raise ValueError("`data_dir` must not be an empty string; use None for the default.")
    return os.path.expanduser(data_dir)

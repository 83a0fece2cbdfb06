"""Errors raised by `tf_pe.data`."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are not on this machine and tf_pe will not download them.

    tf_pe never downloads data at run time. The message of this error always names
    the step that makes the dataset available (a Debian package to install, or the
    `tfds build` command to run on a machine with network access).

    It subclasses `FileNotFoundError`, so `except FileNotFoundError` catches it too.
    Not to be confused with `tfds.core.registered.DatasetNotFoundError`, which tfds
    raises for an unknown dataset *name* (a `ValueError`).
    """

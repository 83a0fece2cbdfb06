"""`to_saved_model`: a TensorFlow SavedModel for serving (TF Serving, `tf.saved_model.load`)."""

from __future__ import annotations

import dataclasses
import os

import keras

from tf_pe.export.strip import strip


@dataclasses.dataclass(frozen=True)
class SavedModelReport:
    """What `to_saved_model` wrote.

    Attributes:
        path: the SavedModel directory.
        size_bytes: the total size of the files in it.
        stripped: whether the model was stripped to plain Keras layers first.
        custom_ops: the tf_pe custom ops the graph calls (loading needs
            `import tf_pe` first when this is not empty).
    """

    path: str
    size_bytes: int
    stripped: bool
    custom_ops: tuple[str, ...]

    def to_dict(self) -> dict:
        """The report as JSON-ready values."""
        return {**dataclasses.asdict(self), "custom_ops": list(self.custom_ops)}


def directory_size(path: str) -> int:
    """Total size in bytes of the files under `path`."""
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def _graph_ops(path: str) -> set[str]:
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    ops = set()
    for meta in proto.meta_graphs:
        ops.update(node.op for node in meta.graph_def.node)
        for function in meta.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


def to_saved_model(model: keras.Model, path: str, keep_custom_op: bool = False
                   ) -> SavedModelReport:
    """Writes `model` as a SavedModel with a `serve` endpoint (inference mode).

    Load it with `tf.saved_model.load(path).serve(x)`; Keras classes are not
    needed to load it.

    Args:
        model: a built functional or Sequential `keras.Model`.
        path: the directory to write (created if needed; files of an earlier
            SavedModel there are overwritten).
        keep_custom_op: if False, the model is first stripped to plain Keras
            layers (`tf_pe.export.strip`), and the SavedModel loads in any
            TensorFlow. If True, the model is exported as it is: a
            `SparseChannelConv2D` keeps the custom op `TfPe>SparseChannelConv2D`
            wherever its dispatch (`tf_pe.ops.dispatch`) would call it, and the
            SavedModel then loads only after `import tf_pe` (which registers the
            op). Defaults to False.

    Returns:
        A `SavedModelReport`.

    Raises:
        ValueError: for an empty `path`, a bad `keep_custom_op`, or as `strip`
            for a layer it cannot convert.
    """
    if not isinstance(path, str | os.PathLike) or not str(path):
        raise ValueError(f"`path` must be a directory path, got {path!r}.")
    if not isinstance(keep_custom_op, bool):
        raise ValueError(f"`keep_custom_op` must be True or False, got {keep_custom_op!r}.")
    exported = model if keep_custom_op else strip(model)
    exported.export(path, format="tf_saved_model", verbose=False)
    custom = tuple(sorted(op for op in _graph_ops(path) if op.startswith("TfPe>")))
    return SavedModelReport(path=path, size_bytes=directory_size(path),
                            stripped=not keep_custom_op, custom_ops=custom)

"""TensorBoard summaries of mask updates: threshold, pruned/regrown counts, densities."""

from __future__ import annotations


class ReparamSummaryWriter:
    """Writes the records of a `MaskUpdateCallback` as TensorBoard scalars.

    Scalars per update step: `reparam/threshold`, `reparam/pruned`,
    `reparam/regrown`, `reparam/target` (where the record has them),
    `reparam/skipped` for skipped steps, and `density/<layer>` for every masked
    layer. Written with `tf.summary.write` and the scalars plugin's metadata,
    so the `tensorboard` package is not needed to write them.

    Args:
        log_dir: the TensorBoard log directory.
    """

    def __init__(self, log_dir: str):
        import tensorflow as tf

        self._tf = tf
        self._writer = tf.summary.create_file_writer(log_dir)
        self._metadata = tf.compat.v1.SummaryMetadata(
            plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name="scalars"))

    def _scalar(self, tag: str, value: float, step: int) -> None:
        self._tf.summary.write(tag, self._tf.constant(float(value), self._tf.float32),
                               step=step, metadata=self._metadata)

    def write(self, record: dict) -> None:
        """Writes one update record."""
        step = int(record["step"])
        with self._writer.as_default():
            if "skipped" in record:
                self._scalar("reparam/skipped", 1.0, step)
                return
            for key in ("threshold", "pruned", "regrown", "target"):
                if key in record:
                    self._scalar(f"reparam/{key}", record[key], step)
            for name, density in record.get("density", {}).items():
                self._scalar(f"density/{name}", density, step)

    def flush(self) -> None:
        """Flushes pending summaries to disk."""
        self._writer.flush()

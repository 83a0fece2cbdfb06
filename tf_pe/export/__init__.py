"""Export: plain Keras models, SavedModels and TFLite files with builtin operators only."""

from tf_pe.export.report import Agreement, TFLiteReport
from tf_pe.export.run_dir import export_run
from tf_pe.export.saved_model import SavedModelReport, to_saved_model
from tf_pe.export.strip import register_stripper, strip
from tf_pe.export.tflite import QUANTIZATIONS, convert, to_tflite

__all__ = [
    "QUANTIZATIONS",
    "Agreement",
    "SavedModelReport",
    "TFLiteReport",
    "convert",
    "export_run",
    "register_stripper",
    "strip",
    "to_saved_model",
    "to_tflite",
]
